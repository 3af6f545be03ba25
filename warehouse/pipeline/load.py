"""Load a landed batch into raw, atomically and idempotently per (hospital, extract date).

One transaction replaces every entity's rows of that hospital and day, records the batch
in ops, and queues the pair for the incremental dbt marts. A reader sees the old batch or
the new one, never a mix; re-running identical content leaves identical tables, because a
row keeps the time its content was first received.

The landed Parquet goes into a session-private staging table (DuckDB:
scanned in place; PostgreSQL: COPY into a TEMP table dropped at commit), so a
crash at any point leaves the previous data and no table behind.
"""

from __future__ import annotations

import os
import time
from datetime import date, datetime
from pathlib import Path

import pyarrow.parquet as pq

from warehouse.storage.connection import WarehouseConnection
from warehouse.storage.schema import raw_columns

# Test hook (tests/warehouse/test_postgres_atomicity.py): seconds to sleep inside the
# load transaction, after the old rows are deleted, so a test can kill the loader there.
PAUSE_AFTER_DELETE_ENV = "HEALTHLINK_TEST_PAUSE_AFTER_DELETE"


def _replace_entity(
    conn: WarehouseConnection,
    entity: str,
    parquet: Path,
    hospital_code: str,
    extract_date: date,
    received_at: datetime,
) -> None:
    if not pq.read_metadata(parquet).num_rows:
        # Nothing came for this entity: the day's rows go, and there is nothing to stage.
        conn.execute(
            f"DELETE FROM raw.{entity} WHERE hospital_code = ? AND extract_date = ?",
            [hospital_code, extract_date],
        )
        return
    # A file landed before a column was added to the contract lacks it: the column stays null.
    in_file = set(pq.read_schema(parquet).names)
    landed = [f.name for f in raw_columns(entity) if f.name in in_file]
    incoming_columns = ", ".join(f'"{n}"' for n in landed)
    conn.create_temp_table("incoming", f"SELECT {incoming_columns} FROM raw.{entity} WHERE 1 = 0")
    conn.insert_parquet("incoming", parquet, landed)
    # First-seen times of content we already hold, captured before the delete.
    conn.create_temp_table(
        "first_seen",
        f"""SELECT r.row_hash, min(r.received_at) AS received_at
            FROM raw.{entity} AS r
            WHERE r.hospital_code = ? AND r.row_hash IN (SELECT row_hash FROM incoming)
            GROUP BY r.row_hash""",
        [hospital_code],
    )
    conn.execute(
        f"DELETE FROM raw.{entity} WHERE hospital_code = ? AND extract_date = ?",
        [hospital_code, extract_date],
    )
    pause = float(os.environ.get(PAUSE_AFTER_DELETE_ENV) or 0)
    if pause:
        time.sleep(pause)
    selected = ", ".join(f'i."{n}"' for n in landed)
    conn.execute(
        f"""INSERT INTO raw.{entity} ({incoming_columns}, "received_at")
            SELECT {selected}, coalesce(f.received_at, CAST(? AS TIMESTAMP))
            FROM incoming AS i LEFT JOIN first_seen AS f ON f.row_hash = i.row_hash""",
        [received_at],
    )
    conn.execute("DROP TABLE incoming")
    conn.execute("DROP TABLE first_seen")


def load_batch(
    conn: WarehouseConnection,
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


# PostgreSQL: re-sample a raw table once a load changed more than this share of it.
# Autovacuum applies the same rule, but a minute later; the dbt build that follows a first
# big load would otherwise plan against an empty table's statistics (a nested loop over
# millions of vital signs ran for more than ten minutes that way).
ANALYZE_CHANGED_SHARE = 0.1


def refresh_statistics(conn: WarehouseConnection, files: dict[str, Path]) -> list[str]:
    """ANALYZE the raw tables this batch changed a lot; returns the entities analysed.

    On PostgreSQL through raw.refresh_statistics (migration 014): only a table's owner may
    ANALYZE it, the loader owns no raw table, and a plain ANALYZE would only warn and skip.
    """
    if conn.dialect != "postgres":
        return []  # DuckDB keeps its statistics as it writes
    analysed = []
    for entity, parquet in sorted(files.items()):
        loaded = pq.ParquetFile(parquet).metadata.num_rows
        (estimated,) = conn.execute(
            "SELECT coalesce(max(reltuples), -1) FROM pg_catalog.pg_class"
            " WHERE oid = to_regclass(?)",
            [f"raw.{entity}"],
        ).fetchone()
        if loaded and (estimated < 0 or loaded > ANALYZE_CHANGED_SHARE * estimated):
            conn.execute("SELECT raw.refresh_statistics(?)", [entity])
            analysed.append(entity)
    return analysed
