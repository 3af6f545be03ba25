"""A throwaway DuckDB warehouse built by the real dbt project, for the dbt tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.support import raw_fixture
from warehouse.pipeline.transform import invoke_dbt

CATEGORIES = (
    "encounter",
    "diagnosis",
    "medication_dispense",
    "procedure",
    "immunization",
    "vital_sign",
    "lab_result",
    "imaging_report",
    "allergy",
)


@dataclass
class Warehouse:
    """A DuckDB file plus the dbt project pointed at it (target and logs stay in tmp)."""

    path: Path
    workdir: Path
    # Extra environment for the profile (the PostgreSQL target sets DBT_TARGET and HEALTHLINK_PG_*).
    target_env: dict[str, str] = field(default_factory=dict)

    def dbt(self, *args: str) -> Any:
        env = {
            "HEALTHLINK_DUCKDB_PATH": str(self.path),
            "DBT_TARGET": "duckdb",
            **self.target_env,
        }
        result = invoke_dbt(list(args), env, work_dir=self.workdir, quiet=True)
        assert result.success, f"dbt {' '.join(args)} failed: {result.exception}"
        return result

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        conn = duckdb.connect(str(self.path))
        try:
            yield conn
        finally:
            conn.close()

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        with self.connect() as conn:
            return conn.execute(sql, params or []).fetchall()

    def clear_pending(self) -> None:
        with self.connect() as conn:
            conn.execute("DELETE FROM ops.transform_pending")


def new_warehouse(root: Path) -> Warehouse:
    """Raw, consent and ops tables holding the day-1 fixture, seeded and built by dbt."""
    root.mkdir(parents=True, exist_ok=True)
    warehouse = Warehouse(path=root / "warehouse.duckdb", workdir=root)
    raw_fixture.build_warehouse(str(warehouse.path))
    warehouse.dbt("seed")
    warehouse.dbt("build")
    return warehouse


@pytest.fixture(scope="module")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    return new_warehouse(tmp_path_factory.mktemp("dbt_warehouse"))
