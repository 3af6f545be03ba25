"""Connections to the warehouse: embedded DuckDB (default) or PostgreSQL (production).

`connect(settings)` yields a `WarehouseConnection`; every module above this one speaks
only its small interface, with `?` placeholders and SQL that runs on both dialects.
`HEALTHLINK_WAREHOUSE` chooses: empty for the DuckDB file, a postgresql:// URL otherwise.

DuckDB allows one writing process per file, and a reader in another process cannot open
it while a writer holds it. Every process that opens the file therefore holds an
inter-process lock for the duration, and keeps that duration short: parallel hospital
tasks parse, validate and land without the lock and take it only to read consent and to
load (DESIGN.md section 6: the DAG, the CLI and the API run one at a time on DuckDB).
PostgreSQL needs no such lock: its hospital loads run in parallel.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from filelock import FileLock

from warehouse.settings import Settings, get_settings
from warehouse.storage.protocol import Cursor, Dialect, WarehouseConnection

__all__ = ["Cursor", "Dialect", "DuckDBConnection", "WarehouseConnection", "connect"]

LOCK_TIMEOUT_SECONDS = 600


_names = itertools.count()


class DuckDBConnection:
    """Thin wrapper over a duckdb connection; the file lock is held by `connect`."""

    dialect: Dialect = "duckdb"

    def __init__(self, raw: duckdb.DuckDBPyConnection) -> None:
        self.raw = raw
        self._depth = 0

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Cursor:
        return self.raw.execute(sql, list(params) if params is not None else None)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self.raw.executemany(sql, [list(r) for r in rows])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN/COMMIT/ROLLBACK; a nested call joins the outer transaction."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.raw.execute("BEGIN")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self.raw.execute("ROLLBACK")
            raise
        self._depth = 0
        self.raw.execute("COMMIT")

    def in_transaction(self) -> bool:
        return self._depth > 0

    def insert_arrow(self, qualified_table: str, table: pa.Table) -> None:
        view = f"arrow_in_{next(_names)}"
        columns = ", ".join(f'"{n}"' for n in table.column_names)
        self.raw.register(view, table)
        try:
            self.raw.execute(
                f"INSERT INTO {qualified_table} ({columns}) SELECT {columns} FROM {view}"
            )
        finally:
            self.raw.unregister(view)

    def insert_parquet(self, qualified_table: str, path: Path, columns: list[str]) -> None:
        names = ", ".join(f'"{n}"' for n in columns)
        self.raw.execute(
            f"INSERT INTO {qualified_table} ({names}) SELECT {names} FROM read_parquet(?)",
            [str(path)],
        )

    def query_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        return self.raw.sql(
            sql, params=list(params) if params is not None else None
        ).to_arrow_table()

    def create_temp_table(self, name: str, select_sql: str, params: Sequence[Any] = ()) -> None:
        self.raw.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select_sql}", list(params))


@contextmanager
def _connect_duckdb(settings: Settings) -> Iterator[WarehouseConnection]:
    settings.home.mkdir(parents=True, exist_ok=True)
    with FileLock(str(settings.lock_path), timeout=LOCK_TIMEOUT_SECONDS):
        raw = duckdb.connect(str(settings.duckdb_path))
        try:
            yield DuckDBConnection(raw)
        finally:
            raw.close()


@contextmanager
def connect(settings: Settings | None = None) -> Iterator[WarehouseConnection]:
    """The configured warehouse. It runs no DDL: `healthlink migrate` and the first-run
    setup of each entry point (warehouse.storage.schema.setup_schema) put the schema in place."""
    settings = settings or get_settings()
    if settings.uses_postgres:
        from warehouse.storage.postgres import connect_postgres

        with connect_postgres(settings.warehouse) as conn:
            yield conn
    else:
        with _connect_duckdb(settings) as conn:
            yield conn
