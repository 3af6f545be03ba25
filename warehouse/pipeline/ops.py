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
from warehouse.clock import to_storage
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
    # Records the source said were deleted (tombstones), outside read = loaded + rejected
    # + filtered: a deletion is not a row read.
    rows_deleted: int = 0
    reason_code: str | None = None
    reason: str | None = None
    landing_path: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float = 0.0
    # A database or FHIR source's window of update times (UTC), kept because such a
    # source cannot be read again as it was; None for file extracts.
    window_start: datetime | None = None
    window_end: datetime | None = None
    entities: dict[str, EntityCounts] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe; this is what travels through XCom and `--json` (counts only)."""
        data = asdict(self)
        for key in ("extract_date", "started_at", "finished_at", "window_start", "window_end"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        return data


def record_batch(conn: WarehouseConnection, summary: BatchSummary, run_id: str) -> None:
    key = [summary.hospital_code, summary.extract_date]
    conn.execute("DELETE FROM ops.batch WHERE hospital_code = ? AND extract_date = ?", key)
    conn.execute(
        "INSERT INTO ops.batch VALUES"
        " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            summary.window_start,
            summary.window_end,
            summary.rows_deleted,
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
        "INSERT INTO ops.quarantine VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            summary.window_start,
            summary.window_end,
        ],
    )


def _rows(conn: WarehouseConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """The rows of a query as dicts by column name."""
    cursor = conn.execute(sql, params)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def latest_batches(conn: WarehouseConnection) -> list[dict[str, Any]]:
    """The last batch of each hospital, with how fresh its loaded data is."""
    return _rows(
        conn,
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
        """,
        [],
    )


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
    return _rows(
        conn, "SELECT * FROM ops.run_summary WHERE run_id = ? ORDER BY hospital_code", [run_id]
    )


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


@dataclass(frozen=True)
class Promise:
    """What the ledger expects of a hospital on a day (from the registry)."""

    hospital_code: str
    expected: bool  # participating that day
    participating_since: date | None
    freshness_sla_days: int


LEDGER_SCHEMA = pa.schema(
    [
        ("hospital_code", pa.string()),
        ("extract_date", pa.date32()),
        ("expected", pa.bool_()),
        ("arrived", pa.bool_()),
        ("status", pa.string()),
        ("participating_since", pa.date32()),
        ("freshness_sla_days", pa.int64()),
        ("sla_breached", pa.bool_()),
        ("run_id", pa.string()),
        ("recorded_at", pa.timestamp("us")),
    ]
)


def batch_codes(conn: WarehouseConnection, extract_date: date) -> set[str]:
    """Hospitals with a batch recorded for the day (whichever run recorded it)."""
    rows = conn.execute(
        "SELECT hospital_code FROM ops.batch WHERE extract_date = ?", [extract_date]
    ).fetchall()
    return {code for (code,) in rows}


def record_hospital_days(
    conn: WarehouseConnection,
    extract_date: date,
    promises: list[Promise],
    run_id: str,
    recorded_at: datetime,
) -> None:
    """Rewrite the ledger's day (ops.hospital_day) from ops.batch, then the freshness of that
    day and every later day of those hospitals (a backfilled day moves their data-as-of).

    Status `missing`: expected, and nothing arrived (no batch, or a batch quarantined because
    its extract folder was not there: missing_file with no file listed in the quarantine record
    of that batch, the one written at the batch's finished_at; a batch id needs content).
    Lag: days between the day and data-as-of; a hospital that never loaded counts from the
    day before it joined. A lag above freshness_sla_days is a breach.
    """
    codes = [p.hospital_code for p in promises]
    with conn.transaction():
        conn.execute("DELETE FROM ops.hospital_day WHERE extract_date = ?", [extract_date])
        table = pa.Table.from_pylist(
            [
                {
                    "hospital_code": p.hospital_code,
                    "extract_date": extract_date,
                    "expected": p.expected,
                    "arrived": False,
                    "status": "missing",
                    "participating_since": p.participating_since,
                    "freshness_sla_days": p.freshness_sla_days,
                    "sla_breached": False,
                    "run_id": run_id,
                    "recorded_at": recorded_at,
                }
                for p in promises
            ],
            schema=LEDGER_SCHEMA,
        )
        if codes:
            conn.insert_arrow("ops.hospital_day", table)
        conn.execute(
            """
            UPDATE ops.hospital_day SET
                arrived = NOT (b.status = 'quarantined' AND b.reason_code = 'missing_file'
                    AND NOT EXISTS (
                        SELECT 1 FROM ops.quarantine AS q
                        WHERE q.hospital_code = b.hospital_code
                          AND q.extract_date = b.extract_date
                          AND q.quarantined_at = b.finished_at AND q.files <> '[]')),
                status = b.status, reason_code = b.reason_code, reason = b.reason,
                rows_read = b.rows_read, rows_loaded = b.rows_loaded,
                rows_rejected = b.rows_rejected, rows_filtered = b.rows_filtered,
                rows_quarantined = b.rows_quarantined
            FROM ops.batch AS b
            WHERE b.hospital_code = hospital_day.hospital_code
              AND b.extract_date = hospital_day.extract_date
              AND hospital_day.extract_date = ?
            """,
            [extract_date],
        )
        conn.execute(
            "UPDATE ops.hospital_day SET status = 'missing' WHERE extract_date = ? AND NOT arrived",
            [extract_date],
        )
        refresh_freshness(conn, extract_date)


def refresh_freshness(conn: WarehouseConnection, since: date) -> None:
    """data_as_of, lag_days and sla_breached of the ledger's rows from `since` on."""
    conn.execute(
        """
        UPDATE ops.hospital_day SET data_as_of = (
            SELECT max(b.extract_date) FROM ops.batch AS b
            WHERE b.hospital_code = hospital_day.hospital_code AND b.status = 'loaded'
              AND b.extract_date <= hospital_day.extract_date)
        WHERE extract_date >= ?
        """,
        [since],
    )
    conn.execute(
        """
        UPDATE ops.hospital_day SET lag_days = extract_date - coalesce(
            data_as_of, participating_since - 1, extract_date - 1)
        WHERE extract_date >= ?
        """,
        [since],
    )
    conn.execute(
        "UPDATE ops.hospital_day SET sla_breached = lag_days > freshness_sla_days "
        "WHERE extract_date >= ?",
        [since],
    )


def record_dbt_tests(conn: WarehouseConnection, run_results: dict[str, Any]) -> int:
    """The tests of one dbt invocation (its target/run_results.json) into ops.dbt_test_result;
    idempotent per invocation. Returns how many test results it recorded."""
    metadata = run_results["metadata"]
    invocation_id = metadata["invocation_id"]
    generated_at = to_storage(datetime.fromisoformat(metadata["generated_at"]))
    rows = [
        [
            invocation_id,
            generated_at,
            result["unique_id"],
            result["status"],
            result.get("failures"),
            result.get("execution_time"),
        ]
        for result in run_results.get("results", [])
        if result["unique_id"].startswith("test.")
    ]
    with conn.transaction():
        conn.execute("DELETE FROM ops.dbt_test_result WHERE invocation_id = ?", [invocation_id])
        if rows:
            conn.executemany("INSERT INTO ops.dbt_test_result VALUES (?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


def ledger_window(conn: WarehouseConnection, days: int) -> tuple[date, date] | None:
    """The last `days` days the ledger holds, (first, last); None while it is empty."""
    latest = conn.execute("SELECT max(extract_date) FROM ops.hospital_day").fetchone()
    if latest is None or latest[0] is None:
        return None
    last = latest[0]
    return date.fromordinal(last.toordinal() - days + 1), last


def ledger_version(conn: WarehouseConnection) -> tuple[Any, ...]:
    """Changes whenever a batch (with its entity counts) or a ledger row is written: what the
    operations page's charts are cached by (warehouse.api.ops_chart_cache). Both tables are
    written with the time of writing (finished_at, recorded_at), and rows are never deleted
    but replaced, so (count, latest time) of each moves on every write."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM ops.hospital_day), "
        "(SELECT max(recorded_at) FROM ops.hospital_day), "
        "(SELECT count(*) FROM ops.batch), (SELECT max(finished_at) FROM ops.batch)"
    ).fetchone()
    return tuple(row) if row else ()


def ops_report(
    conn: WarehouseConnection, first: date, last: date, hospital: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Operations' report over [first, last], for one hospital or all: the ledger per day,
    per hospital, the reject rate per day and entity, the top reject rules and the code
    coverage per hospital and code system (all pairs, worst first). Codes and counts only."""
    scope = "extract_date BETWEEN ? AND ?" + (" AND hospital_code = ?" if hospital else "")
    params: list[Any] = [first, last, *([hospital] if hospital else [])]
    daily = _rows(
        conn,
        f"""
        SELECT extract_date, count(*) FILTER (WHERE expected) AS expected,
               count(*) FILTER (WHERE status = 'loaded') AS loaded,
               count(*) FILTER (WHERE status = 'quarantined') AS quarantined,
               count(*) FILTER (WHERE status = 'failed') AS failed,
               count(*) FILTER (WHERE status = 'missing') AS missing,
               count(*) FILTER (WHERE sla_breached) AS sla_breached,
               coalesce(sum(rows_read), 0) AS rows_read,
               coalesce(sum(rows_loaded), 0) AS rows_loaded,
               coalesce(sum(rows_rejected), 0) AS rows_rejected,
               coalesce(sum(rows_filtered), 0) AS rows_filtered
        FROM ops.hospital_day WHERE {scope}
        GROUP BY extract_date ORDER BY extract_date
        """,
        params,
    )
    hospitals = _rows(
        conn,
        f"""
        WITH scoped AS (
            SELECT *, row_number() OVER (
                PARTITION BY hospital_code ORDER BY extract_date DESC) AS newest
            FROM ops.hospital_day WHERE {scope}
        )
        SELECT hospital_code,
               max(CASE WHEN newest = 1 THEN status END) AS last_status,
               max(CASE WHEN newest = 1 THEN reason_code END) AS last_reason_code,
               max(CASE WHEN newest = 1 THEN data_as_of END) AS data_as_of,
               max(CASE WHEN newest = 1 THEN lag_days END) AS lag_days,
               max(CASE WHEN newest = 1 THEN freshness_sla_days END) AS freshness_sla_days,
               count(*) FILTER (WHERE status = 'loaded') AS days_loaded,
               count(*) FILTER (WHERE status = 'quarantined') AS days_quarantined,
               count(*) FILTER (WHERE status = 'failed') AS days_failed,
               count(*) FILTER (WHERE status = 'missing') AS days_missing,
               count(*) FILTER (WHERE sla_breached) AS days_sla_breached,
               coalesce(sum(rows_read), 0) AS rows_read,
               coalesce(sum(rows_rejected), 0) AS rows_rejected
        FROM scoped GROUP BY hospital_code
        ORDER BY max(CASE WHEN newest = 1 THEN lag_days END) DESC NULLS LAST, hospital_code
        """,
        params,
    )
    reject_rates = _rows(
        conn,
        f"""
        SELECT extract_date, entity, sum(rows_read) AS rows_read,
               sum(rows_rejected) AS rows_rejected,
               CASE WHEN sum(rows_read) > 0
                    THEN CAST(sum(rows_rejected) AS DOUBLE PRECISION) / sum(rows_read)
               END AS reject_rate
        FROM ops.dq_entity_day WHERE {scope}
        GROUP BY extract_date, entity ORDER BY extract_date, entity
        """,
        params,
    )
    return {
        "daily": daily,
        "hospitals": hospitals,
        "reject_rates": reject_rates,
        "top_rules": top_reject_rules(conn, first, last, [hospital] if hospital else None),
        "coverage": code_coverage(conn, first, last, [hospital] if hospital else None)[0],
    }


def _window_scope(first: date, last: date, codes: list[str] | None) -> tuple[str, list[Any]]:
    """The WHERE clause of a window, for the given hospitals or (None) all of them."""
    if codes is None:
        return "extract_date BETWEEN ? AND ?", [first, last]
    marks = ", ".join("?" for _ in codes) or "NULL"
    return f"extract_date BETWEEN ? AND ? AND hospital_code IN ({marks})", [first, last, *codes]


def top_reject_rules(
    conn: WarehouseConnection,
    first: date,
    last: date,
    codes: list[str] | None = None,
    top: int = 20,
) -> list[dict[str, Any]]:
    """The rules that rejected most rows over the window, with how many hospitals hit each."""
    scope, params = _window_scope(first, last, codes)
    # From ops.reject itself, not its per-day view: one aggregation over the month's rejects
    # (the view's per-day groups spilled to disk on PostgreSQL's default work_mem: 1.3 s for
    # a month of 1,100 hospitals, against 0.5 s; BENCHMARKS.md "Operations ledger").
    return _rows(
        conn,
        f"""
        WITH per_hospital AS (
            SELECT entity, rule, hospital_code, count(*) AS rejects
            FROM ops.reject WHERE {scope}
            GROUP BY entity, rule, hospital_code
        )
        SELECT entity, rule, sum(rejects) AS rejects, count(*) AS hospitals
        FROM per_hospital
        GROUP BY entity, rule ORDER BY sum(rejects) DESC, entity, rule LIMIT {int(top)}
        """,
        params,
    )


def ledger_grid(
    conn: WarehouseConnection, first: date, last: date, codes: list[str] | None = None
) -> list[dict[str, Any]]:
    """Status and lag of every hospital-day of the window (the operations page's heatmap)."""
    scope, params = _window_scope(first, last, codes)
    return _rows(
        conn,
        f"SELECT hospital_code, extract_date, status, lag_days, sla_breached "
        f"FROM ops.hospital_day WHERE {scope} ORDER BY hospital_code, extract_date",
        params,
    )


def reject_rate_trend(
    conn: WarehouseConnection, first: date, last: date, codes: list[str] | None = None
) -> list[dict[str, Any]]:
    """Reject rate per hospital and day over all entities (ops.dq_entity_day)."""
    scope, params = _window_scope(first, last, codes)
    return _rows(
        conn,
        f"""
        SELECT hospital_code, extract_date, sum(rows_read) AS rows_read,
               sum(rows_rejected) AS rows_rejected,
               CASE WHEN sum(rows_read) > 0
                    THEN CAST(sum(rows_rejected) AS DOUBLE PRECISION) / sum(rows_read)
               END AS reject_rate
        FROM ops.dq_entity_day WHERE {scope}
        GROUP BY hospital_code, extract_date ORDER BY hospital_code, extract_date
        """,
        params,
    )


def quarantine_list(
    conn: WarehouseConnection,
    first: date,
    last: date,
    codes: list[str] | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """The window's quarantined batches, newest first, with their reason (codes and counts)."""
    scope, params = _window_scope(first, last, codes)
    return _rows(
        conn,
        f"""
        SELECT hospital_code, extract_date, reason_code, reason, rows_read, rows_rejected,
               quarantined_at
        FROM ops.quarantine WHERE {scope}
        ORDER BY extract_date DESC, hospital_code, quarantined_at DESC LIMIT {int(limit)}
        """,
        params,
    )


def recent_runs(
    conn: WarehouseConnection, codes: list[str] | None = None, limit: int = 10
) -> list[dict[str, Any]]:
    """The last runs (ops.batch by run_id): their day, outcomes and wall-clock duration."""
    where = ""
    params: list[Any] = []
    if codes is not None:
        where = "WHERE hospital_code IN (" + (", ".join("?" for _ in codes) or "NULL") + ")"
        params = list(codes)
    return _rows(
        conn,
        f"""
        SELECT run_id, max(extract_date) AS extract_date, count(*) AS batches,
               count(*) FILTER (WHERE status = 'loaded') AS loaded,
               count(*) FILTER (WHERE status = 'quarantined') AS quarantined,
               count(*) FILTER (WHERE status = 'failed') AS failed,
               min(started_at) AS started_at, max(finished_at) AS finished_at,
               extract(epoch FROM max(finished_at) - min(started_at)) AS duration_s,
               coalesce(sum(duration_s), 0) AS batch_seconds
        FROM ops.batch {where}
        GROUP BY run_id
        ORDER BY max(coalesce(finished_at, started_at)) DESC NULLS LAST, max(extract_date) DESC,
                 run_id DESC
        LIMIT {int(limit)}
        """,
        params,
    )


def unmapped_codes_built(conn: WarehouseConnection) -> bool:
    """Whether dbt has built marts.rpt_unmapped_codes (not before its first build). On
    PostgreSQL the catalog shows it to the roles that may read it (healthlink_ops)."""
    return (
        conn.execute(
            "SELECT 1 FROM information_schema.tables "
            "WHERE table_schema = 'marts' AND table_name = 'rpt_unmapped_codes'"
        ).fetchone()
        is not None
    )


# What the report and the page show of code_coverage's rows, in this order.
COVERAGE_COLUMNS = [
    "hospital_code",
    "code_system",
    "coded_rows",
    "unmapped_rows",
    "unmapped_share",
    "unclassified_rows",
]


def code_coverage(
    conn: WarehouseConnection,
    first: date,
    last: date,
    codes: list[str] | None = None,
    top: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Per hospital and code system over the window (dbt's marts.rpt_unmapped_codes): coded
    rows, the unmapped ones and their share, and the unclassified ones of a non-native
    system (hidden as sensitive; null for a native system, whose rows are shown). Worst
    first: highest unmapped share, then most unclassified rows. Returns the first `top`
    rows (all with None) and how many pairs there are. Codes and counts only."""
    if not unmapped_codes_built(conn):
        return [], 0
    scope, params = _window_scope(first, last, codes)
    # The model's grain is (hospital, day, system): a month of 1,100 hospitals is about
    # 190,000 rows (bench/ops.py), read through its extract_date index on PostgreSQL
    # (macros/ops_reads.sql): 0.06 s for all pairs there (BENCHMARKS.md).
    rows = _rows(
        conn,
        f"""
        WITH pairs AS (
            SELECT hospital_code, code_system,
                   CAST(sum(coded_rows) AS BIGINT) AS coded_rows,
                   CAST(sum(unmapped_rows) AS BIGINT) AS unmapped_rows,
                   CAST(sum(CASE WHEN is_native_system THEN NULL ELSE unclassified_rows END)
                       AS BIGINT) AS unclassified_rows
            FROM marts.rpt_unmapped_codes WHERE {scope}
            GROUP BY hospital_code, code_system
        )
        SELECT hospital_code, code_system, coded_rows, unmapped_rows,
               CAST(unmapped_rows AS DOUBLE PRECISION) / coded_rows AS unmapped_share,
               unclassified_rows, count(*) OVER () AS pairs
        FROM pairs
        ORDER BY unmapped_share DESC, unclassified_rows DESC NULLS LAST, unmapped_rows DESC,
                 hospital_code, code_system
        {"" if top is None else f"LIMIT {int(top)}"}
        """,
        params,
    )
    total = int(rows[0].pop("pairs")) if rows else 0
    for row in rows[1:]:
        del row["pairs"]
    return rows, total
