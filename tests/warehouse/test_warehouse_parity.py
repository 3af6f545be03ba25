"""For the same generated input, DuckDB and PostgreSQL publish identical row sets.

The whole daily sync (load, dbt build, publish) runs once on each target; every published
view is then read without row-level security (PostgreSQL as the superuser), every value
cast to text the same way, and compared per view by a checksum of the sorted row hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.support.machine import START, TEST_KEY, throwaway_pg_database
from tests.support.warehouse_batches import key
from warehouse.consent.sender_choice import import_registrations
from warehouse.hospital_registry import load_registry
from warehouse.pipeline.daily_run import run_daily_sync
from warehouse.settings import Settings
from warehouse.storage.connection import WarehouseConnection, connect
from warehouse.storage.schema import setup_schema

pytestmark = pytest.mark.postgres

NULL = "\\N"
# Times set by the clock of each run, not by the input (when a batch was received):
# compared as present or absent only.
RUN_TIME_COLUMNS = {"received_at", "last_received_at", "data_as_of"}


def canonical(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float | Decimal):
        return f"{float(value):.6f}"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _text(column: str, value: Any) -> str:
    if column in RUN_TIME_COLUMNS:
        return NULL if value is None else "set"
    return canonical(value)


def published_checksums(conn: WarehouseConnection) -> dict[str, tuple[int, str]]:
    views = [
        name
        for (name,) in conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'published' ORDER BY 1"
        ).fetchall()
    ]
    result = {}
    for view in views:
        cursor = conn.execute(f"SELECT * FROM published.{view}")
        names = [d[0] for d in cursor.description]
        order = sorted(range(len(names)), key=lambda i: names[i])
        hashes = sorted(
            hashlib.sha256("\x1f".join(_text(names[i], row[i]) for i in order).encode()).hexdigest()
            for row in cursor.fetchall()
        )
        columns = ",".join(names[i] for i in order)
        digest = hashlib.sha256((columns + "|" + "".join(hashes)).encode()).hexdigest()
        result[view] = (len(hashes), digest)
    return result


def _settings(home: Path, dataset: Path, warehouse: str) -> Settings:
    return Settings(
        home=home,
        registry_dir=dataset / "registry",
        pseudonym_key=TEST_KEY,  # type: ignore[arg-type]
        environment="test",
        warehouse=warehouse,
    )


@pytest.fixture
def pg_url() -> Iterator[str]:
    with throwaway_pg_database("healthlink_parity_test") as url:
        yield url


def test_both_targets_publish_identical_rows(tmp_path: Path, dataset: Path, pg_url: str) -> None:
    checksums = {}
    for name, warehouse in (("duckdb", ""), ("postgres", pg_url)):
        settings = _settings(tmp_path / name, dataset, warehouse)
        with connect(settings) as conn:
            setup_schema(conn)
            import_registrations(
                conn,
                dataset / "consent" / "registrations.csv",
                key(settings),
                load_registry(settings.registry_dir),
            )
        summary = run_daily_sync(START, settings=settings)
        assert {row["status"] for row in summary} == {"loaded"}
        with connect(settings) as conn:
            checksums[name] = published_checksums(conn)
    # PostgreSQL may publish more (the row tables behind row-level security), never less.
    assert checksums["duckdb"].keys() <= checksums["postgres"].keys()
    assert len(checksums["duckdb"]) >= 10
    assert any(rows for rows, _ in checksums["duckdb"].values())
    differing = {
        view: (checksums["duckdb"][view], checksums["postgres"][view])
        for view in checksums["duckdb"]
        if checksums["duckdb"][view] != checksums["postgres"][view]
    }
    assert not differing
