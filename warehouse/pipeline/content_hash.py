"""The content hash of raw rows (`raw.<entity>.row_hash`), computed in bulk by an in-process DuckDB.

It answers one question: has the warehouse already received this content from this hospital?
A row keeps the `received_at` of the first batch that brought its content (warehouse.pipeline.load).
So the hash covers what a row says, not where it was read: lineage columns (file, line, extract
date, batch) are left out, and a record re-sent on a later day hashes the same.

This is not the reject hash (`connectors.base.reject_hash`, sha256, in `ops.reject.row_hash`):
it hashes the pseudonymised row (`patient_key`; `cid` only in the patient entity) with md5, and
the values stored in raw must not change, or every row's `received_at` would start again.
Recipe: md5 (hex) of the accepted row's columns except LINEAGE_ONLY, in the table's order
(contract order, `patient_key` last), each cast to VARCHAR by DuckDB (null as U+0000), joined
by U+001F; a column of ADDED_LATER is left out while null (concat_ws skips a null), so the rows
of sources that never fill it hash as they did before the column existed.
"""

from __future__ import annotations

import os
import threading

import duckdb
import pyarrow as pa

LINEAGE_ONLY = {"source_file", "source_line", "extract_date", "batch_id", "row_hash", "received_at"}
UNIT_SEPARATOR = "chr(31)"
# Contract columns added after raw held rows (connectors.contract: code_system).
ADDED_LATER = {"code_system"}


# One in-memory DuckDB per process (opening one costs about 35 ms, ten times a batch), opened
# on first use and again in a forked child (Airflow and Celery fork their task processes, and a
# DuckDB database does not survive a fork); each call works on its own cursor, a connection of
# its own to that database, so threads may share it.
_memory: tuple[int, duckdb.DuckDBPyConnection] | None = None
_memory_lock = threading.Lock()


def _cursor() -> duckdb.DuckDBPyConnection:
    global _memory
    with _memory_lock:
        if _memory is None or _memory[0] != os.getpid():
            _memory = (os.getpid(), duckdb.connect())
        return _memory[1].cursor()


def with_content_hash(table: pa.Table) -> pa.Table:
    """`table` with a `row_hash` column: the content hash of each row."""
    if not table.num_rows:
        return table.append_column("row_hash", pa.array([], pa.string()))
    columns = [name for name in table.column_names if name not in LINEAGE_ONLY]
    parts = ", ".join(
        f'CAST("{name}" AS VARCHAR)'
        if name in ADDED_LATER
        else f'coalesce(CAST("{name}" AS VARCHAR), chr(0))'
        for name in columns
    )
    conn = _cursor()
    try:
        conn.register("incoming", table)
        hashes = conn.sql(
            f"SELECT md5(concat_ws({UNIT_SEPARATOR}, {parts})) AS row_hash FROM incoming"
        ).to_arrow_table()
    finally:
        conn.close()
    return table.append_column("row_hash", hashes.column("row_hash"))
