"""PostgreSQL adapter of the warehouse connection interface (psycopg 3).

Values are bound client-side (psycopg's ClientCursor): a `?` in our SQL becomes a typed
literal, so `SELECT ?` and `INSERT ... SELECT ?, ?` resolve their types exactly as on
DuckDB. Bulk rows take COPY, never INSERT: Arrow is written as CSV by Arrow's C++
writer and streamed into `COPY ... FROM STDIN`.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from warehouse.storage.protocol import Cursor, Dialect, WarehouseConnection

COPY_CHUNK_ROWS = 100_000

# PostgreSQL type OIDs → Arrow, for query_arrow (anything else: Arrow infers).
_ARROW_TYPES: dict[int, pa.DataType] = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int64(),
    23: pa.int64(),
    25: pa.string(),
    1043: pa.string(),
    700: pa.float64(),
    701: pa.float64(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
}


@lru_cache(maxsize=512)
def translate_placeholders(sql: str) -> str:
    """`?` outside quotes → `%s`; a literal `%` is doubled (psycopg's own syntax)."""
    out: list[str] = []
    quote: str | None = None
    for char in sql:
        if quote:
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
        elif char == "?":
            out.append("%s")
            continue
        out.append("%%" if char == "%" else char)
    return "".join(out)


class PostgresConnection:
    dialect: Dialect = "postgres"

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Cursor:
        cursor = self.raw.cursor()
        if params is None:
            cursor.execute(sql.encode("utf-8"))  # bytes: no placeholder parsing at all
        else:
            cursor.execute(translate_placeholders(sql), list(params))
        return cursor

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self.raw.cursor() as cursor:
                cursor.executemany(translate_placeholders(sql), [list(r) for r in rows])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN/COMMIT/ROLLBACK; a nested call becomes a savepoint."""
        with self.raw.transaction():
            yield

    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def insert_arrow(self, qualified_table: str, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        columns = ", ".join(f'"{n}"' for n in table.column_names)
        # Every valid value quoted, nulls bare: PostgreSQL's CSV tells NULL from ''.
        options = pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
        with (
            self.raw.cursor() as cursor,
            cursor.copy(
                f"COPY {qualified_table} ({columns}) FROM STDIN (FORMAT csv)".encode()
            ) as copy,
        ):
            for batch in table.to_batches(max_chunksize=COPY_CHUNK_ROWS):
                buffer = io.BytesIO()
                pacsv.write_csv(batch, buffer, options)
                copy.write(buffer.getbuffer())

    def insert_parquet(self, qualified_table: str, path: Path, columns: list[str]) -> None:
        self.insert_arrow(qualified_table, pq.read_table(path, columns=columns))

    def query_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        with self.raw.cursor() as cursor:
            cursor.execute(translate_placeholders(sql), list(params or []))
            names = [c.name for c in cursor.description or []]
            oids = [c.type_code for c in cursor.description or []]
            rows = cursor.fetchall()
        arrays = [
            pa.array([row[i] for row in rows], type=_ARROW_TYPES.get(oid))
            for i, oid in enumerate(oids)
        ]
        return pa.Table.from_arrays(arrays, names=names)

    def create_temp_table(self, name: str, select_sql: str, params: Sequence[Any] = ()) -> None:
        self.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
        self.execute(f"CREATE TEMP TABLE {name} ON COMMIT DROP AS {select_sql}", params)


def open_postgres(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        url, autocommit=True, cursor_factory=psycopg.ClientCursor, application_name="healthlink"
    )


@contextmanager
def connect_postgres(url: str) -> Iterator[WarehouseConnection]:
    """A connection in autocommit mode; `transaction()` groups statements. No DDL: the
    schema is the migration's (warehouse.storage.schema)."""
    raw = open_postgres(url)
    try:
        yield PostgresConnection(raw)
    finally:
        raw.close()
