"""SharedDuckDB (the API's DuckDB file, kept open across requests) keeps the single-writer
protocol: a process or thread that wants warehouse.lock gets it while the holder keeps
working, the holder then sees what the writer committed, and closing releases the file.
DuckDB only: PostgreSQL has no file lock."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from warehouse.storage.connection import SharedDuckDB, connect, warehouse_lock


def _count(shared: SharedDuckDB) -> int:
    with shared.connection() as conn:
        return int(conn.execute("SELECT count(*) FROM probe").fetchone()[0])


@pytest.mark.parametrize("settings", ["duckdb"], indirect=True)
def test_shared_file_is_reused_and_given_up_to_a_writer(settings: Any) -> None:
    with connect(settings) as conn:
        conn.execute("CREATE TABLE probe (n INTEGER)")
    shared = SharedDuckDB(settings)
    try:
        for _ in range(5):
            assert _count(shared) == 0
        assert shared.opened == 1  # one open for five uses

        waited: list[float] = []

        def writer() -> None:
            started = time.monotonic()
            with connect(settings) as conn:  # waits for warehouse.lock, announcing it
                waited.append(time.monotonic() - started)
                conn.execute("INSERT INTO probe VALUES (1)")

        thread = threading.Thread(target=writer)
        thread.start()
        deadline = time.monotonic() + 20
        while thread.is_alive() and time.monotonic() < deadline:
            _count(shared)  # the holder keeps working: it must still let the writer in
        thread.join(timeout=1)
        assert waited and waited[0] < 5, waited
        assert _count(shared) == 1  # the writer's row, at once
        assert shared.opened >= 2  # reopened after the writer
    finally:
        shared.close()
    with warehouse_lock(settings, timeout=2):  # closing released the file
        pass


@pytest.mark.parametrize("settings", ["duckdb"], indirect=True)
def test_a_use_starts_clean_and_a_failed_one_leaves_nothing_open(settings: Any) -> None:
    with connect(settings) as conn:
        conn.execute("CREATE TABLE probe (n INTEGER)")
    shared = SharedDuckDB(settings)
    try:
        try:
            with shared.connection() as conn:
                conn.execute("BEGIN")
                conn.execute("INSERT INTO probe VALUES (1)")
                conn.execute("SET VARIABLE healthlink_physician_licence = '12345'")
                raise RuntimeError("the request failed")
        except RuntimeError:
            pass
        with shared.connection() as conn:
            assert conn.execute("SELECT count(*) FROM probe").fetchone()[0] == 0
            variable = "getvariable('healthlink_physician_licence')"
            assert conn.execute(f"SELECT {variable}").fetchone()[0] is None
        assert shared.opened == 1
    finally:
        shared.close()
