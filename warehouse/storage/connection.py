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
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol

import duckdb
import pyarrow as pa
from filelock import FileLock

from warehouse.settings import Settings, get_settings

LOCK_TIMEOUT_SECONDS = 600

Dialect = Literal["duckdb", "postgres"]


class Cursor(Protocol):
    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class WarehouseConnection(Protocol):
    """What the warehouse modules may use; both adapters implement exactly this."""

    dialect: Dialect

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Cursor: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def insert_arrow(self, qualified_table: str, table: pa.Table) -> None: ...

    def query_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table: ...

    def insert_parquet(self, qualified_table: str, path: Path, columns: list[str]) -> None:
        """Bulk insert the given columns of a Parquet file (DuckDB scans it in place)."""
        ...

    def create_temp_table(self, name: str, select_sql: str, params: Sequence[Any] = ()) -> None:
        """A session-private table from a query, gone at the end of the transaction on
        PostgreSQL (ON COMMIT DROP); callers drop it explicitly for DuckDB's sake."""
        ...


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


# DuckDB files whose schema this process has already ensured: the API opens the file once
# per request (single writer, DESIGN §6), and some thirty CREATE ... IF NOT EXISTS
# statements cost more than the request's own queries. A freed inode can be reused by a new
# file, so a hit is confirmed by one catalog lookup of the table ensure_schema creates last.
_schema_ensured: set[tuple[str, int, int]] = set()


def _file_identity(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (str(path.resolve()), stat.st_dev, stat.st_ino)


def _has_schema(raw: duckdb.DuckDBPyConnection) -> bool:
    # fetchall, not fetchone: a result left open makes the connection's next sql() fail
    # (ResourceInUseException), and the caller's first statement may be one.
    found = raw.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'ops'"
        " AND table_name = 'run_summary'"
    ).fetchall()
    return bool(found[0][0])


@contextmanager
def _connect_duckdb(settings: Settings) -> Iterator[WarehouseConnection]:
    from warehouse.storage.schema import ensure_schema

    settings.home.mkdir(parents=True, exist_ok=True)
    with FileLock(str(settings.lock_path), timeout=LOCK_TIMEOUT_SECONDS):
        raw = duckdb.connect(str(settings.duckdb_path))
        try:
            conn = DuckDBConnection(raw)
            file_identity = _file_identity(settings.duckdb_path)
            if file_identity not in _schema_ensured or not _has_schema(raw):
                ensure_schema(conn)
                _schema_ensured.add(file_identity)
            yield conn
        finally:
            raw.close()


@contextmanager
def connect(settings: Settings | None = None) -> Iterator[WarehouseConnection]:
    """The configured warehouse, its raw/consent/ops schema in place."""
    settings = settings or get_settings()
    if settings.uses_postgres:
        from warehouse.storage.postgres import connect_postgres

        with connect_postgres(settings.warehouse) as conn:
            yield conn
    else:
        with _connect_duckdb(settings) as conn:
            yield conn
