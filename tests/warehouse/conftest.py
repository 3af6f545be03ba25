"""Every pipeline test runs on both warehouses: the embedded DuckDB file and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.machine import TEST_KEY, throwaway_pg_database
from warehouse.settings import Settings
from warehouse.storage.schema import setup_warehouse


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path, dataset: Path) -> Iterator[Settings]:
    def make(warehouse: str) -> Settings:
        made = Settings(
            home=tmp_path / "home",
            registry_dir=dataset / "registry",
            pseudonym_key=TEST_KEY,  # type: ignore[arg-type]
            environment="test",
            warehouse=warehouse,
        )
        setup_warehouse(made)  # as `healthlink migrate` leaves a deployment
        return made

    if request.param == "duckdb":
        yield make("")
        return
    with throwaway_pg_database("healthlink_wh_test") as url:
        yield make(url)
