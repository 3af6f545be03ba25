"""Operations tables: what each batch did, what was rejected or quarantined, and why.

Nothing personal is written here: counts, file names, hashes, line numbers and reasons.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from connectors.base import Reject
from warehouse.storage.connection import WarehouseConnection

REJECT_SCHEMA = pa.schema(
    [
        ("hospital_code", pa.string()),
        ("extract_date", pa.date32()),
        ("batch_id", pa.string()),
        ("entity", pa.string()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
        ("field", pa.string()),
        ("rule", pa.string()),
        ("reason", pa.string()),
        ("row_hash", pa.string()),
        ("source_key", pa.string()),
    ]
)


@dataclass
class EntityCounts:
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_filtered: int = 0


@dataclass
class BatchSummary:
    hospital_code: str
    extract_date: date
    status: str  # loaded | quarantined | failed
    batch_id: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_filtered: int = 0
    rows_quarantined: int = 0
    reason_code: str | None = None
    reason: str | None = None
    landing_path: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float = 0.0
    entities: dict[str, EntityCounts] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe; this is what travels through XCom and `--json` (counts only)."""
        data = asdict(self)
        for key in ("extract_date", "started_at", "finished_at"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


def record_batch(conn: WarehouseConnection, summary: BatchSummary, run_id: str) -> None:
    key = [summary.hospital_code, summary.extract_date]
    conn.execute("DELETE FROM ops.batch WHERE hospital_code = ? AND extract_date = ?", key)
    conn.execute(
        "INSERT INTO ops.batch VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            summary.hospital_code,
            summary.extract_date,
            summary.batch_id,
            run_id,
            summary.status,
            summary.rows_read,
            summary.rows_loaded,
            summary.rows_rejected,
            summary.rows_filtered,
            summary.rows_quarantined,
            summary.reason_code,
            summary.reason,
            summary.landing_path,
            summary.started_at,
            summary.finished_at,
            summary.duration_s,
        ],
    )
    if summary.status == "quarantined":
        return  # the loaded day's per-entity counts and rejects stay as they were
    conn.execute("DELETE FROM ops.batch_entity WHERE hospital_code = ? AND extract_date = ?", key)
    rows = [
        [*key, entity, c.rows_read, c.rows_loaded, c.rows_rejected, c.rows_filtered]
        for entity, c in sorted(summary.entities.items())
    ]
    conn.executemany("INSERT INTO ops.batch_entity VALUES (?, ?, ?, ?, ?, ?, ?)", rows)


def record_rejects(
    conn: WarehouseConnection,
    hospital_code: str,
    extract_date: date,
    batch_id: str,
    rejects: list[Reject],
) -> None:
    """Replace the day's rejects. `source_file` holds the location's source (file name,
    table or FHIR resource type), `source_line` its line, `source_key` its key."""
    conn.execute(
        "DELETE FROM ops.reject WHERE hospital_code = ? AND extract_date = ?",
        [hospital_code, extract_date],
    )
    if not rejects:
        return
    table = pa.Table.from_pylist(
        [
            {
                "hospital_code": hospital_code,
                "extract_date": extract_date,
                "batch_id": batch_id,
                "entity": r.entity,
                "source_file": r.location.source,
                "source_line": r.location.line,
                "source_key": r.location.key,
                "field": r.field,
                "rule": r.rule,
                "reason": r.reason,
                "row_hash": r.row_hash,
            }
            for r in rejects
        ],
        schema=REJECT_SCHEMA,
    )
    conn.insert_arrow("ops.reject", table)


def record_validation(
    conn: WarehouseConnection,
    hospital_code: str,
    extract_date: date,
    documents: dict[str, dict[str, Any]],
) -> None:
    conn.execute(
        "DELETE FROM ops.validation_result WHERE hospital_code = ? AND extract_date = ?",
        [hospital_code, extract_date],
    )
    conn.executemany(
        "INSERT INTO ops.validation_result VALUES (?, ?, ?, ?)",
        [
            [hospital_code, extract_date, entity, json.dumps(document, default=str)]
            for entity, document in sorted(documents.items())
        ],
    )


def record_quarantine(
    conn: WarehouseConnection,
    summary: BatchSummary,
    files: list[dict[str, Any]],
) -> None:
    conn.execute(
        "INSERT INTO ops.quarantine VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            summary.hospital_code,
            summary.extract_date,
            summary.batch_id,
            summary.reason_code,
            summary.reason,
            json.dumps(files),
            summary.rows_read,
            summary.rows_rejected,
            summary.finished_at,
        ],
    )


def latest_batches(conn: WarehouseConnection) -> list[dict[str, Any]]:
    """The last batch of each hospital, with how fresh its loaded data is."""
    cursor = conn.execute(
        """
        WITH ranked AS (
            SELECT b.*, row_number() OVER (
                PARTITION BY hospital_code ORDER BY extract_date DESC, finished_at DESC) AS rn
            FROM ops.batch AS b
        ), freshness AS (
            SELECT hospital_code, max(extract_date) AS data_as_of
            FROM ops.batch WHERE status = 'loaded' GROUP BY hospital_code
        )
        SELECT r.hospital_code, h.hospital_name, r.extract_date, r.status, r.rows_read,
               r.rows_loaded, r.rows_rejected, r.rows_filtered, r.rows_quarantined,
               r.reason_code, r.reason, r.duration_s, f.data_as_of, r.finished_at
        FROM ranked AS r
        LEFT JOIN freshness AS f USING (hospital_code)
        LEFT JOIN consent.hospital AS h USING (hospital_code)
        WHERE r.rn = 1
        ORDER BY r.hospital_code
        """
    )
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def record_run_summary(
    conn: WarehouseConnection, run_id: str, extract_date: date, recorded_at: datetime
) -> list[dict[str, Any]]:
    """Snapshot, for this run, every participating hospital's outcome for the day."""
    conn.execute("DELETE FROM ops.run_summary WHERE run_id = ?", [run_id])
    conn.execute(
        """
        INSERT INTO ops.run_summary
        SELECT ?, ?, h.hospital_code, coalesce(b.status, 'missing'), b.rows_read, b.rows_loaded,
               b.rows_rejected, b.rows_filtered, b.reason, b.duration_s,
               (SELECT max(extract_date) FROM ops.batch AS l
                WHERE l.hospital_code = h.hospital_code AND l.status = 'loaded'),
               ?
        FROM consent.hospital AS h
        LEFT JOIN ops.batch AS b ON b.hospital_code = h.hospital_code AND b.extract_date = ?
        WHERE h.participating_since <= ?
        """,
        [run_id, extract_date, recorded_at, extract_date, extract_date],
    )
    cursor = conn.execute(
        "SELECT * FROM ops.run_summary WHERE run_id = ? ORDER BY hospital_code", [run_id]
    )
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def batch_outcomes(
    conn: WarehouseConnection, extract_date: date, run_id: str
) -> dict[str, tuple[str, str | None]]:
    """(status, reason_code) per hospital whose batch for the day THIS run recorded; a
    hospital absent here was not processed by the run (its task never ran or never recorded)."""
    rows = conn.execute(
        "SELECT hospital_code, status, reason_code FROM ops.batch "
        "WHERE extract_date = ? AND run_id = ?",
        [extract_date, run_id],
    ).fetchall()
    return {code: (status, reason_code) for code, status, reason_code in rows}
