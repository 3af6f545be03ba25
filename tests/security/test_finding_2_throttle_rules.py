"""Issue 9, finding 2: the throttle's rules (warehouse/api/throttle.py) on a real DuckDB file
and a real PostgreSQL database, at chosen clock times: rounds, doubling and capped locks, a
day's quiet, a success's reset and give-back, and the clean-up of quiet keys."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.support.machine import throwaway_pg_database
from warehouse.api import throttle
from warehouse.settings import Settings
from warehouse.storage.connection import WarehouseConnection, connect
from warehouse.storage.schema import setup_schema

T0 = datetime(2026, 12, 1, 8, 0, 0)
BUDGET = throttle.Budget(3, timedelta(minutes=1), timedelta(minutes=3))
KEY = throttle.ThrottleKey("physician", "81900", "192.0.2.10")


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def conn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WarehouseConnection]:
    def settings(warehouse: str) -> Settings:
        return Settings(home=tmp_path / "home", environment="test", warehouse=warehouse)

    if request.param == "duckdb":
        with connect(settings("")) as duck:
            setup_schema(duck)
            yield duck
        return
    with throwaway_pg_database("healthlink_throttle") as url, connect(settings(url)) as pg:
        setup_schema(pg)  # the migration creates the API's tables too
        yield pg


def _round(conn: WarehouseConnection, now: datetime) -> list[int | None]:
    return [throttle.take_slot(conn, KEY, BUDGET, now) for _ in range(BUDGET.attempts + 1)]


def test_finding_2_rounds_double_their_lock_up_to_the_cap(conn: WarehouseConnection) -> None:
    assert _round(conn, T0) == [None, None, None, 60]
    now = T0 + timedelta(seconds=61)  # the first lock is over: a new round, a longer lock
    assert _round(conn, now) == [None, None, None, 120]
    now += timedelta(seconds=121)
    assert _round(conn, now) == [None, None, None, 180]  # 240 s capped at 3 min
    now += timedelta(seconds=181)
    assert _round(conn, now) == [None, None, None, 180]
    # A refused attempt during a lock does not lengthen it.
    assert throttle.take_slot(conn, KEY, BUDGET, now + timedelta(seconds=100)) == 80


def test_finding_2_a_quiet_day_forgets_and_a_success_resets(conn: WarehouseConnection) -> None:
    assert _round(conn, T0) == [None, None, None, 60]
    later = T0 + throttle.QUIET_RESET + timedelta(seconds=1)
    assert _round(conn, later) == [None, None, None, 60]  # back to the first lock's length
    after = later + timedelta(seconds=61)
    assert throttle.take_slot(conn, KEY, BUDGET, after) is None
    throttle.succeeded(conn, KEY, after)
    assert _round(conn, after) == [None, None, None, 60]  # a full budget again


def test_finding_2_a_success_gives_the_address_its_slot_back(conn: WarehouseConnection) -> None:
    address = throttle.ThrottleKey(throttle.ADDRESS_KEY, "", KEY.address)
    for _ in range(10):  # ten physicians behind one address log in right
        throttle.admit(conn, KEY, BUDGET, BUDGET, T0)
        throttle.succeeded(conn, KEY, T0)
    assert throttle.take_slot(conn, address, BUDGET, T0) is None  # attempts 1 of 3
    # While the address is locked, a success does not lower its count below the lock.
    assert [throttle.take_slot(conn, address, BUDGET, T0) for _ in range(3)] == [None, None, 60]
    throttle.succeeded(conn, KEY, T0)
    assert throttle.take_slot(conn, address, BUDGET, T0) == 60


def test_finding_2_quiet_keys_are_dropped_when_a_lock_is_set(conn: WarehouseConnection) -> None:
    for n in range(5):
        guessed = throttle.ThrottleKey("physician", f"8195{n}", KEY.address)
        throttle.take_slot(conn, guessed, BUDGET, T0)
    later = T0 + throttle.QUIET_RESET + timedelta(minutes=5)
    _round(conn, later)
    rows = conn.execute("SELECT subject FROM api.login_throttle ORDER BY 1").fetchall()
    assert rows == [(KEY.subject,)]
