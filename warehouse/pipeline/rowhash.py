"""Content hashes of rows, computed in bulk by an in-process DuckDB.

The hash covers what a row says, not where it was read: lineage columns (file, line,
extract date, batch) are left out, so the same record re-sent on a later day has the
same hash and keeps the time the warehouse first received it.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

LINEAGE_ONLY = {"source_file", "source_line", "extract_date", "batch_id", "row_hash", "received_at"}
UNIT_SEPARATOR = "chr(31)"


def with_row_hash(table: pa.Table) -> pa.Table:
    columns = [name for name in table.column_names if name not in LINEAGE_ONLY]
    parts = ", ".join(f'coalesce(CAST("{name}" AS VARCHAR), chr(0))' for name in columns)
    conn = duckdb.connect()
    try:
        conn.register("incoming", table)
        hashes = conn.sql(
            f"SELECT md5(concat_ws({UNIT_SEPARATOR}, {parts})) AS row_hash FROM incoming"
        ).to_arrow_table()
    finally:
        conn.close()
    return table.append_column("row_hash", hashes.column("row_hash"))
