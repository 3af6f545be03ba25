"""Consent's effects, applied before each day's hospitals sync (warehouse.pipeline.daily_run.prepare_run).

In order: hospitals that joined (events, notifications), per-visit requests whose day ended
(expired), the purge of rows consent no longer allows (raw, marts, landing; counts only in
consent.purge_log), and the full-history requests of newly consenting patients. Purging
before the day's loads makes "purged by the next sync" hold; the loads themselves filter
by the consent current at load time, so a replay of an old day never brings rows back.

Full-history requests (docs/consent.md): connectors stay consent-agnostic. For each hospital
and extract day, ops.history_request lists the patients (pseudonymous keys) whose full
history the hospital is asked for; the hospital's side resolves the keys to its patients and
sends the history with a later extract, within 1-4 days. `pending_history_requests` is what
freshness shows meanwhile (count and oldest request day per hospital).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import structlog

from warehouse.clock import as_utc, to_storage, utc_or_now
from warehouse.consent.cohort import LogSince, newly_consenting, read_log_since
from warehouse.consent.hospitals import record_hospital_joined
from warehouse.consent.per_visit import expire_requests
from warehouse.consent.purge import purge
from warehouse.hospital_registry import Registry
from warehouse.storage.protocol import WarehouseConnection

log = structlog.get_logger(__name__)

HISTORY_SCHEMA = pa.schema(
    [
        ("hospital_code", pa.string()),
        ("extract_date", pa.date32()),
        ("patient_key", pa.string()),
        ("reason", pa.string()),
        ("requested_at", pa.timestamp("us")),
    ]
)


@dataclass(frozen=True)
class EffectsSummary:
    """Counts only (safe for logs and XCom)."""

    hospitals_joined: list[str]
    requests_expired: int
    purged_pairs: int
    purged_rows: int
    history_requests: dict[str, int]  # hospital -> patients asked for in full


def request_full_history(
    conn: WarehouseConnection,
    hospital_codes: list[str],
    extract_date: date,
    *,
    now: datetime | None = None,
) -> dict[str, int]:
    """Record, per hospital, the patients newly consenting since its last checkpoint.

    A hospital seen for the first time only gets a checkpoint: its first extract is its
    full history for everyone.
    """
    moment = utc_or_now(now)
    asked: dict[str, int] = {}
    with conn.transaction():
        # Hospitals share their checkpoint time (written together below): one read of the
        # log per distinct `since`, covering only the patients with an event after it.
        logs: dict[datetime, LogSince] = {}
        for code in hospital_codes:
            row = conn.execute(
                "SELECT computed_at FROM ops.cohort_checkpoint WHERE hospital_code = ?", [code]
            ).fetchone()
            if row is not None:
                since = as_utc(row[0])
                if since not in logs:
                    logs[since] = read_log_since(conn, since)
                keys, hospital_joined = newly_consenting(conn, code, logs[since])
                reason = "hospital_joined" if hospital_joined else "newly_consenting"
                rows = pa.Table.from_pydict(
                    {
                        "hospital_code": [code] * len(keys),
                        "extract_date": [extract_date] * len(keys),
                        "patient_key": keys,
                        "reason": [reason] * len(keys),
                        "requested_at": [to_storage(moment)] * len(keys),
                    },
                    schema=HISTORY_SCHEMA,
                )
                # A re-run of the same day asks again for the same patients: replace them.
                conn.execute(
                    "DELETE FROM ops.history_request WHERE hospital_code = ? AND extract_date = ?"
                    " AND fulfilled_on IS NULL",
                    [code, extract_date],
                )
                if rows.num_rows:
                    conn.insert_arrow("ops.history_request", rows)
                asked[code] = rows.num_rows
            conn.execute(
                "INSERT INTO ops.cohort_checkpoint (hospital_code, computed_at) VALUES (?, ?)"
                " ON CONFLICT (hospital_code) DO UPDATE SET computed_at = excluded.computed_at",
                [code, to_storage(moment)],
            )
    return asked


def pending_history_requests(conn: WarehouseConnection) -> list[dict[str, Any]]:
    """Per hospital: full-history requests not yet answered, and the oldest request day."""
    rows = conn.execute(
        "SELECT hospital_code, count(*), min(extract_date) FROM ops.history_request"
        " WHERE fulfilled_on IS NULL GROUP BY hospital_code ORDER BY hospital_code"
    ).fetchall()
    return [
        {"hospital_code": code, "pending": int(count), "oldest_request": oldest}
        for code, count, oldest in rows
    ]


def mark_history_fulfilled(
    conn: WarehouseConnection, hospital_code: str, through: date, on: date
) -> int:
    """The hospital sent the requested histories (requests up to `through`) on day `on`."""
    (count,) = conn.execute(
        "SELECT count(*) FROM ops.history_request WHERE hospital_code = ? AND extract_date <= ?"
        " AND fulfilled_on IS NULL",
        [hospital_code, through],
    ).fetchone()
    conn.execute(
        "UPDATE ops.history_request SET fulfilled_on = ? WHERE hospital_code = ?"
        " AND extract_date <= ? AND fulfilled_on IS NULL",
        [on, hospital_code, through],
    )
    return int(count)


def apply_before_sync(
    conn: WarehouseConnection, registry: Registry, extract_date: date, landing_dir: Path
) -> EffectsSummary:
    """Everything consent changed since the last sync, before the day's hospitals load."""
    joined = record_hospital_joined(conn, registry, extract_date)
    expired = expire_requests(conn)
    purged = purge(conn, landing_dir)
    participating = sorted(h.hospital_code for h in registry.participating(extract_date))
    asked = request_full_history(conn, participating, extract_date)
    summary = EffectsSummary(
        hospitals_joined=joined,
        requests_expired=expired,
        purged_pairs=purged.pairs,
        purged_rows=purged.rows_raw + purged.rows_marts,
        history_requests=asked,
    )
    log.info(
        "consent_effects",
        hospitals_joined=len(joined),
        requests_expired=expired,
        purged_pairs=purged.pairs,
        purged_rows=summary.purged_rows,
        history_requests=sum(asked.values()),
    )
    return summary
