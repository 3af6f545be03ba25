"""Consent tests run on a real warehouse: a DuckDB file, and a throwaway PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.machine import throwaway_pg_database
from warehouse.settings import Settings
from warehouse.storage.connection import connect
from warehouse.storage.schema import setup_schema


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def conn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    def open_with(warehouse: str) -> Iterator[Any]:
        settings = Settings(home=tmp_path / "home", warehouse=warehouse, environment="test")
        with connect(settings) as connection:
            setup_schema(connection)
            yield connection

    if request.param == "duckdb":
        yield from open_with("")
        return
    with throwaway_pg_database("healthlink_consent_test") as url:
        yield from open_with(url)


@pytest.fixture
def duck(tmp_path: Path) -> Iterator[Any]:
    """DuckDB only: for tests about files and tables only the embedded warehouse has."""
    settings = Settings(home=tmp_path / "home", environment="test")
    with connect(settings) as connection:
        setup_schema(connection)
        yield connection
