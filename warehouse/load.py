"""Load a landed batch into raw, atomically and idempotently per (hospital, extract date).

One transaction replaces every entity's rows of that hospital and day, records the batch
in ops, and queues the pair for the incremental dbt marts. A reader sees the old batch or
the new one, never a mix; re-running identical content leaves identical tables, because a
row keeps the time its content was first received.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb

from warehouse.schema import raw_columns


def _replace_entity(
    conn: duckdb.DuckDBPyConnection,
    entity: str,
    parquet: Path,
    hospital_code: str,
    extract_date: date,
    received_at: datetime,
) -> None:
    names = [f.name for f in raw_columns(entity)]
    landed = ", ".join(f'i."{n}"' for n in names if n != "received_at")
    target = ", ".join(f'"{n}"' for n in names)
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE incoming AS SELECT * FROM read_parquet(?)", [str(parquet)]
    )
    # First-seen times of content we already hold, captured before the delete.
    conn.execute(
        f"""CREATE OR REPLACE TEMP TABLE first_seen AS
            SELECT r.row_hash, min(r.received_at) AS received_at
            FROM raw.{entity} AS r
            WHERE r.hospital_code = ? AND r.row_hash IN (SELECT row_hash FROM incoming)
            GROUP BY r.row_hash""",
        [hospital_code],
    )
    conn.execute(
        f"DELETE FROM raw.{entity} WHERE hospital_code = ? AND extract_date = ?",
        [hospital_code, extract_date],
    )
    conn.execute(
        f"""INSERT INTO raw.{entity} ({target})
            SELECT {landed}, coalesce(f.received_at, ?::TIMESTAMP)
            FROM incoming AS i LEFT JOIN first_seen AS f USING (row_hash)""",
        [received_at],
    )
    conn.execute("DROP TABLE incoming")
    conn.execute("DROP TABLE first_seen")


def load_batch(
    conn: duckdb.DuckDBPyConnection,
    files: dict[str, Path],
    hospital_code: str,
    extract_date: date,
    received_at: datetime,
) -> None:
    """Replace the hospital's day in raw with the landed files. Caller owns the transaction."""
    for entity, parquet in files.items():
        _replace_entity(conn, entity, parquet, hospital_code, extract_date, received_at)
    conn.execute(
        "INSERT INTO ops.transform_pending VALUES (?, ?) ON CONFLICT DO NOTHING",
        [hospital_code, extract_date],
    )
