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

A process that waits for the lock says so: it touches `warehouse.lock.wanted` every
`WANT_POLL_SECONDS` until it has the lock (`warehouse_lock`). That lets the API keep one
connection open across requests (`SharedDuckDB`: opening the file and reading its catalog
cost more than a whole patient record) and still give the file up as soon as the loader,
the CLI, dbt or a test wants it.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from filelock import FileLock, Timeout

from warehouse.settings import Settings, get_settings
from warehouse.storage.protocol import Cursor, Dialect, WarehouseConnection

__all__ = [
    "Cursor",
    "Dialect",
    "DuckDBConnection",
    "SharedDuckDB",
    "WarehouseConnection",
    "connect",
    "warehouse_lock",
]

LOCK_TIMEOUT_SECONDS = 600
# A waiter re-announces itself this often; a holder that caches the file checks as often.
WANT_POLL_SECONDS = 0.05


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


def wanted_path(settings: Settings) -> Path:
    """Touched by every process waiting for warehouse.lock (see the module docstring)."""
    return settings.lock_path.with_name(settings.lock_path.name + ".wanted")


def _acquire_announcing(lock: FileLock, wanted: Path, timeout: float) -> None:
    """Take `lock`; while it is held elsewhere, touch `wanted` every WANT_POLL_SECONDS so a
    holder that caches the file (SharedDuckDB) lets it go."""
    deadline = time.monotonic() + timeout
    try:
        lock.acquire(timeout=0)
        return
    except Timeout:
        pass
    while True:
        wanted.touch()
        try:
            lock.acquire(timeout=WANT_POLL_SECONDS)
            return
        except Timeout:
            if time.monotonic() >= deadline:
                raise


@contextmanager
def warehouse_lock(settings: Settings, timeout: float = LOCK_TIMEOUT_SECONDS) -> Iterator[None]:
    """Hold HEALTHLINK_HOME/warehouse.lock (DuckDB's single writer), announcing the wait."""
    settings.home.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.lock_path))
    _acquire_announcing(lock, wanted_path(settings), timeout)
    try:
        yield
    finally:
        lock.release()


@contextmanager
def _connect_duckdb(settings: Settings) -> Iterator[WarehouseConnection]:
    with warehouse_lock(settings):
        raw = duckdb.connect(str(settings.duckdb_path))
        try:
            yield DuckDBConnection(raw)
        finally:
            raw.close()


class SharedDuckDB:
    """One process's DuckDB file, kept open across uses (the API on DuckDB).

    Holds warehouse.lock while the file is open, and closes the file (releasing the lock) as
    soon as another process or thread announces that it waits for the lock (`warehouse_lock`),
    after `idle_seconds` without use, and on `close()`. A watcher thread checks while no one
    uses it; a use checks before and after. Uses are serialised in the process, as the lock
    serialised them before; each gets its own DuckDB connection to the open database (a
    cursor: its own transaction, variables and temporary tables), closed after the use.
    The data is live: a write through one use is seen by the next, and a write by another
    process can only happen after this one gave the file up (the next use reopens it)."""

    def __init__(self, settings: Settings, idle_seconds: float = 30.0) -> None:
        self.settings = settings
        self.idle_seconds = idle_seconds
        self._wanted = wanted_path(settings)
        # Not thread-local: the watcher thread releases what a request's thread acquired.
        self._lock = FileLock(str(settings.lock_path), thread_local=False)
        self._mutex = threading.Lock()
        self._raw: duckdb.DuckDBPyConnection | None = None
        self._opened_ns = 0
        self._last_used = 0.0
        self._yielded = False
        self._closed = threading.Event()
        self._watcher: threading.Thread | None = None
        self.opened = 0  # how many times the file was opened (tests and the benchmark)

    @contextmanager
    def connection(self) -> Iterator[WarehouseConnection]:
        with self._mutex:
            if self._raw is not None and self._is_wanted():
                self._give_up()
            raw = self._raw or self._open()
            cursor = raw.cursor()
            try:
                yield DuckDBConnection(cursor)
            except duckdb.FatalException:
                cursor.close()
                self._give_up()  # the database is invalidated: reopen on the next use
                raise
            finally:
                cursor.close()  # rolls back what a failed use left open
                self._last_used = time.monotonic()
                if self._is_wanted():
                    self._give_up()

    def close(self) -> None:
        self._closed.set()
        with self._mutex:
            self._give_up()

    def _is_wanted(self) -> bool:
        try:
            return os.stat(self._wanted).st_mtime_ns > self._opened_ns
        except FileNotFoundError:
            return False

    def _open(self) -> duckdb.DuckDBPyConnection:
        if self._yielded:
            self._let_waiter_in()
        self.settings.home.mkdir(parents=True, exist_ok=True)
        _acquire_announcing(self._lock, self._wanted, LOCK_TIMEOUT_SECONDS)
        try:
            self._raw = duckdb.connect(str(self.settings.duckdb_path))
        except BaseException:
            self._lock.release()
            raise
        self._opened_ns = time.time_ns()
        self._last_used = time.monotonic()
        self._yielded = False
        self.opened += 1
        if self._watcher is None:
            self._watcher = threading.Thread(
                target=self._watch, name="healthlink-duckdb-watcher", daemon=True
            )
            self._watcher.start()
        return self._raw

    def _let_waiter_in(self) -> None:
        """After giving the file up to a waiter: wait until it stops announcing (it has the
        lock, or gave up) before taking the lock again, at most a second."""
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            try:
                age = time.time_ns() - os.stat(self._wanted).st_mtime_ns
            except FileNotFoundError:
                return
            if age > 3 * WANT_POLL_SECONDS * 1e9:
                return
            time.sleep(WANT_POLL_SECONDS)

    def _give_up(self) -> None:
        raw, self._raw = self._raw, None
        if raw is None:
            return
        try:
            raw.close()
        finally:
            self._lock.release()
            self._yielded = self._is_wanted()

    def _watch(self) -> None:
        while not self._closed.wait(WANT_POLL_SECONDS):
            if self._raw is None:
                continue
            idle = time.monotonic() - self._last_used > self.idle_seconds
            if not (idle or self._is_wanted()) or not self._mutex.acquire(blocking=False):
                continue
            try:
                if self._raw is not None:
                    self._give_up()
            finally:
                self._mutex.release()


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
