"""Connections to the embedded DuckDB warehouse.

DuckDB allows one writing process per file, and a reader in another process cannot open
it while a writer holds it. Every process that opens the file therefore holds an
inter-process lock for the duration, and keeps that duration short: parallel hospital
tasks parse, validate and land without the lock and take it only to read consent and to
load (DESIGN.md section 6: the DAG, the CLI and the API run one at a time on DuckDB).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from filelock import FileLock

from warehouse.schema import ensure_schema
from warehouse.settings import Settings, get_settings

LOCK_TIMEOUT_SECONDS = 600


@contextmanager
def connect(settings: Settings | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    settings = settings or get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    with FileLock(str(settings.lock_path), timeout=LOCK_TIMEOUT_SECONDS):
        conn = duckdb.connect(str(settings.duckdb_path))
        try:
            ensure_schema(conn)
            yield conn
        finally:
            conn.close()
