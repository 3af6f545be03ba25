"""Shared fixtures: generated synthetic data and throwaway warehouses."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("SCARF_ANALYTICS", "false")

# The served API warehouses (both backends) and their helpers, shared by tests/api and
# tests/security so each test process builds them once.
pytest_plugins = ["tests.support.api_server"]

from tests.support.machine import START, TEST_AUDIT_KEY, TEST_KEY  # noqa: E402

# Production is the default environment and refuses the development secrets; the tests run as
# "test" with their own keys, inherited by every subprocess (CLI, Airflow, uvicorn) they start.
os.environ.setdefault("HEALTHLINK_ENVIRONMENT", "test")
os.environ.setdefault("HEALTHLINK_PSEUDONYM_KEY", TEST_KEY)
os.environ.setdefault("HEALTHLINK_AUDIT_KEY", TEST_AUDIT_KEY)


# The files that take minutes, started first: with `--dist loadfile` a file runs whole on one
# worker, and xdist's default order (most tests first) left the PostgreSQL DAG test (320 s, two
# tests) to run last, alone, as the suite's tail. pyproject's addopts turns xdist's reordering
# off, so this order is the order the workers take files in.
SLOWEST_FIRST = (
    "tests/dags/test_daily_sync_dag_postgres.py",
    "tests/dags/test_daily_sync_dag.py",
    "tests/dbt/test_postgres_incremental_rows.py",
    "tests/dbt/test_postgres_target.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slowest files first, then the others by number of tests (xdist's own order)."""
    rank = {path: i for i, path in enumerate(SLOWEST_FIRST)}
    files = Counter(item.nodeid.split("::")[0] for item in items)
    items.sort(key=lambda item: _file_order(item.nodeid.split("::")[0], rank, files))


def _file_order(path: str, rank: dict[str, int], files: Counter[str]) -> tuple[int, int, str]:
    return (rank.get(path, len(rank)), -files[path], path)


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 hospitals (one TIS-620, one Buddhist era, one headerless), 300 patients, 2 days."""
    from synthetic import generate_dataset

    out = tmp_path_factory.mktemp("dataset")
    generate_dataset(
        out,
        hospitals=4,
        patients=300,
        days=2,
        start_date=START,
        seed=7,
        tis620_hospitals=1,
        buddhist_era_hospitals=1,
        headerless_hospitals=1,
        error_rate=0.002,
        visits_per_patient=4.0,
    )
    return out


@pytest.fixture
def dataset(small_dataset: Path, tmp_path: Path) -> Path:
    """A private copy, so a test may break files without touching the others."""
    copy = tmp_path / "dataset"
    shutil.copytree(small_dataset, copy)
    return copy


@pytest.fixture
def settings(tmp_path: Path, dataset: Path):  # type: ignore[no-untyped-def]
    from warehouse.settings import Settings
    from warehouse.storage.schema import setup_warehouse

    made = Settings(
        home=tmp_path / "home",
        registry_dir=dataset / "registry",
        pseudonym_key=TEST_KEY,  # type: ignore[arg-type]
        environment="test",
    )
    setup_warehouse(made)  # the first-run setup, as `healthlink migrate` leaves a deployment
    return made



@pytest.fixture
def chromium() -> Path:
    """Debian's chromium for the browser tests: fail, never skip, when it is missing."""
    path = Path("/usr/bin/chromium")
    if not path.exists():
        pytest.fail(
            "no /usr/bin/chromium: scripts/ensure_services.sh installs it (apt-get install -y "
            "chromium fonts-thai-tlwg-ttf)",
            pytrace=False,
        )
    return path
