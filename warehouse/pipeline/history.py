"""History requests served by sources that can be asked (docs/consent.md "History requests").

ops.history_request names, by pseudonymous key, the patients whose full history a hospital
should send. A 43-file hospital's side reads it and sends the history in its files; a
source that can be asked (`Connector.supports_history`: HOSxP, a FHIR hospital's server) is
asked here, in the daily sync: after the day's window is read, the hospital's pending requests
are resolved to the source's patients by computing the keys of the source's national IDs (held
in memory only, never stored or logged), those patients' full history is read, and its rows
join the day's batch, so the consent filter, validation, accounting and landing apply to them
unchanged.
The requests answered are marked fulfilled in the load transaction (`mark_fulfilled`); a
quarantined batch leaves them pending, as does a request for a patient the source lacks.

A request fulfilled on day D is served again by a re-run of D: the load replaces the
hospital's day in raw, the history rows with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import structlog

from connectors.base import Connector, Extract, SourceFile, batch_id_for
from expectations.national_id import valid_national_id_mask
from warehouse.pseudonym import patient_keys
from warehouse.settings import Settings
from warehouse.storage.connection import connect
from warehouse.storage.protocol import WarehouseConnection

log = structlog.get_logger(__name__)

# The source files of the history read, named apart from the window's in the batch id.
HISTORY_PREFIX = "history/"
_MARK_CHUNK = 500


@dataclass
class Served:
    """The day's extract with the requested histories in it, and which requests it answers."""

    extract: Extract
    fulfilled: list[str] = field(default_factory=list)  # patient keys found at the source
    not_at_source: int = 0


def pending_keys(conn: WarehouseConnection, hospital_code: str, extract_date: date) -> set[str]:
    """Keys the day's batch should send in full: requests up to the day still pending, and
    those this day fulfilled already (a re-run replaces the day, history included)."""
    rows = conn.execute(
        "SELECT DISTINCT patient_key FROM ops.history_request"
        " WHERE hospital_code = ? AND extract_date <= ?"
        " AND (fulfilled_on IS NULL OR fulfilled_on = ?)",
        [hospital_code, extract_date, extract_date],
    ).fetchall()
    return {str(key) for (key,) in rows}


def resolve(
    national_ids: Iterable[str | None], asked: set[str], pseudonym_key: bytes
) -> tuple[list[str], set[str]]:
    """The source's national IDs whose key is asked for, and the keys found. An ID that is
    not a valid national ID has no key (the consent filter would reject its rows anyway)."""
    ids = pa.array(list(national_ids), pa.string())
    readable = ids.filter(valid_national_id_mask(ids))
    if not len(readable) or not asked:
        return [], set()
    keys = patient_keys(readable, pseudonym_key)
    wanted = pc.is_in(keys, value_set=pa.array(sorted(asked), pa.string()))
    found_ids = sorted(set(readable.filter(wanted).to_pylist()))
    return found_ids, set(keys.filter(wanted).to_pylist())


def with_history(window: Extract, history: Extract) -> Extract:
    """The window's extract with the history's rows that it does not already hold (by
    record_key, per entity; rejects by entity and location), under one batch id over both
    reads' source files."""
    files = window.files + [
        SourceFile(HISTORY_PREFIX + f.name, f.sha256, f.size_bytes) for f in history.files
    ]
    batch_id = batch_id_for(files)
    tables: dict[str, pa.Table] = {}
    for entity in window.tables.keys() | history.tables.keys():
        parts = [
            t for t in (window.tables.get(entity), history.tables.get(entity)) if t is not None
        ]
        if len(parts) == 2:
            present = parts[0].column("record_key")
            new = pc.invert(pc.is_in(parts[1].column("record_key"), value_set=present))
            parts[1] = parts[1].filter(new)
        table = pa.concat_tables(parts)
        column = table.schema.get_field_index("batch_id")
        table = table.set_column(
            column,
            "batch_id",
            pa.array([batch_id] * table.num_rows, table.schema.field(column).type),
        )
        tables[entity] = table
    seen = {(r.entity, r.location) for r in window.rejected}
    rejected = window.rejected + [r for r in history.rejected if (r.entity, r.location) not in seen]
    return replace(window, batch_id=batch_id, files=files, tables=tables, rejected=rejected)


def serve(connector: Connector, window: Extract, settings: Settings) -> Served:
    """Add the full history of the asked patients the source has to the day's extract."""
    if not connector.supports_history:
        return Served(window)
    with connect(settings) as conn:
        asked = pending_keys(conn, window.hospital_code, window.extract_date)
    if not asked:
        return Served(window)
    pseudonym_key = settings.pseudonym_key.get_secret_value().encode("utf-8")
    ids, found = resolve(connector.national_ids(), asked, pseudonym_key)
    served = Served(window, sorted(found), len(asked) - len(found))
    if ids:
        history = connector.read_history(window.hospital_code, ids, window.extract_date)
        served.extract = with_history(window, history)
    log.info(
        "history_requests_served",
        hospital=window.hospital_code,
        extract_date=str(window.extract_date),
        patients=len(found),
        not_at_source=served.not_at_source,
    )
    return served


def mark_fulfilled(
    conn: WarehouseConnection, hospital_code: str, extract_date: date, keys: list[str]
) -> None:
    """The day's batch sent these patients' histories: their requests up to the day are
    fulfilled on it. Caller owns the (load) transaction."""
    for start in range(0, len(keys), _MARK_CHUNK):
        chunk = keys[start : start + _MARK_CHUNK]
        marks = ", ".join("?" for _ in chunk)
        conn.execute(
            "UPDATE ops.history_request SET fulfilled_on = ? WHERE hospital_code = ?"
            f" AND extract_date <= ? AND fulfilled_on IS NULL AND patient_key IN ({marks})",
            [extract_date, hospital_code, extract_date, *chunk],
        )
