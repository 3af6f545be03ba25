"""What a metrics scrape shows, gathered from the ops tables: live on PostgreSQL, and on
DuckDB from a snapshot file the pipeline writes, so a scrape never takes the writer lock.

DuckDB has one writing process per file, and a reader in another process cannot even open it
while a writer holds it: a scrape that connected would wait for a whole sync (or, holding the
lock, make the sync wait). So every step that changes what the metrics show (a batch loaded,
quarantined or failed; the day's close, its alerts and their drain; a late run) calls
`refresh` after its commit, while it still holds the lock, and the scrape reads the file
(`current`). The file is replaced atomically (rename), so a scrape sees one whole snapshot;
`written_at` says how old it is (healthlink_metrics_snapshot_timestamp_seconds).

Codes, entity names and counts only, like the metrics.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path

import structlog

from warehouse.clock import storage_now
from warehouse.pipeline.alerts import alert_counts, delivery_counts
from warehouse.settings import Settings
from warehouse.storage.connection import WarehouseConnection, connect

log = structlog.get_logger(__name__)

SNAPSHOT_FILE = "ops-metrics.json"


# The hospital's latest loaded extract date: the day its published data is as of.
_LATEST_LOADED = (
    "SELECT hospital_code, max(extract_date) AS extract_date FROM ops.batch "
    "WHERE status = 'loaded' GROUP BY hospital_code"
)


def latest_loaded_counts(conn: WarehouseConnection) -> list[tuple[str, str, int, int]]:
    """(hospital, entity, rows loaded, rows rejected) of each hospital's latest loaded day."""
    return [
        (code, entity, int(loaded or 0), int(rejected or 0))
        for code, entity, loaded, rejected in conn.execute(
            "SELECT e.hospital_code, e.entity, e.rows_loaded, e.rows_rejected "
            f"FROM ops.batch_entity AS e JOIN ({_LATEST_LOADED}) AS l "
            "ON e.hospital_code = l.hospital_code AND e.extract_date = l.extract_date "
            "ORDER BY 1, 2"
        ).fetchall()
    ]


def data_as_of(conn: WarehouseConnection) -> dict[str, date | None]:
    """Every hospital with a batch: its latest loaded extract date (None: never loaded)."""
    rows = conn.execute(
        "SELECT b.hospital_code, l.extract_date FROM (SELECT DISTINCT hospital_code "
        f"FROM ops.batch) AS b LEFT JOIN ({_LATEST_LOADED}) AS l "
        "ON b.hospital_code = l.hospital_code ORDER BY 1"
    ).fetchall()
    return {code: day for code, day in rows}


def last_batch_durations(conn: WarehouseConnection) -> list[tuple[str, str, float]]:
    """(hospital, status, seconds) of each hospital's latest batch, whatever its outcome."""
    return [
        (code, status, float(seconds or 0.0))
        for code, status, seconds in conn.execute(
            "SELECT b.hospital_code, b.status, b.duration_s FROM ops.batch AS b JOIN ("
            "SELECT hospital_code, max(extract_date) AS extract_date FROM ops.batch "
            "GROUP BY hospital_code) AS l "
            "ON b.hospital_code = l.hospital_code AND b.extract_date = l.extract_date "
            "ORDER BY 1"
        ).fetchall()
    ]


@dataclass(frozen=True)
class OpsSnapshot:
    written_at: datetime
    counts: list[tuple[str, str, int, int]]  # hospital, entity, rows loaded, rows rejected
    as_of: dict[str, date | None]  # hospital: latest loaded extract date
    durations: list[tuple[str, str, float]]  # hospital, latest batch status, seconds
    alerts: dict[str, int]  # condition: alerts raised
    deliveries: dict[str, int]  # state: alert deliveries


def gather(conn: WarehouseConnection) -> OpsSnapshot:
    return OpsSnapshot(
        written_at=storage_now(),
        counts=latest_loaded_counts(conn),
        as_of=data_as_of(conn),
        durations=last_batch_durations(conn),
        alerts=alert_counts(conn),
        deliveries=delivery_counts(conn),
    )


def snapshot_path(settings: Settings) -> Path:
    return settings.home / SNAPSHOT_FILE


def refresh(conn: WarehouseConnection, settings: Settings) -> None:
    """DuckDB: rewrite the snapshot from `conn` (call after the commit, lock still held).
    PostgreSQL: nothing, scrapes read live."""
    if settings.uses_postgres:
        return
    document = asdict(gather(conn))
    path = snapshot_path(settings)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        partial.write_text(json.dumps(document, default=str), encoding="utf-8")
        os.replace(partial, path)  # atomic: a scrape reads the old file or the new one
    except OSError as error:  # stale metrics (the timestamp shows it), never a failed sync
        log.warning("metrics_snapshot_not_written", error_type=type(error).__name__)


def current(settings: Settings) -> OpsSnapshot | None:
    """What a scrape shows now: PostgreSQL live (a short read-only connection), DuckDB the
    last snapshot (None before the pipeline wrote one)."""
    if settings.uses_postgres:
        with connect(settings) as conn:
            return gather(conn)
    try:
        document = json.loads(snapshot_path(settings).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return OpsSnapshot(
        written_at=datetime.fromisoformat(document["written_at"]),
        counts=[
            (c, e, int(loaded), int(rejected)) for c, e, loaded, rejected in document["counts"]
        ],
        as_of={
            code: date.fromisoformat(day) if day else None
            for code, day in document["as_of"].items()
        },
        durations=[(c, s, float(seconds)) for c, s, seconds in document["durations"]],
        alerts={k: int(v) for k, v in document["alerts"].items()},
        deliveries={k: int(v) for k, v in document["deliveries"].items()},
    )
