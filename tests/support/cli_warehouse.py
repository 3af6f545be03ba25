"""A throwaway warehouse (DuckDB file or PostgreSQL database) driven by the real `healthlink`
command in a subprocess, for the findings about operator commands (issue 9, findings 9, 10)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.machine import REPO, TEST_KEY, throwaway_pg_database
from warehouse.clock import bangkok_today
from warehouse.settings import Settings

HEALTHLINK = REPO / ".venv" / "bin" / "healthlink"
H1, H2 = "10001", "10002"  # H1 participates since 2024; H2 only from tomorrow (Bangkok)


@dataclass(frozen=True)
class CliWarehouse:
    kind: str
    env: dict[str, str]
    settings: Settings
    registry_dir: Path

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(HEALTHLINK), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=300,
            check=False,
        )

    def run_json(self, *args: str, stdin: str = "") -> tuple[int, Any]:
        done = self.run(*args, "--json", stdin=stdin)
        assert "Traceback" not in done.stderr, done.stderr
        return done.returncode, json.loads(done.stdout) if done.stdout.strip() else None


def _registry(root: Path) -> Path:
    registry = root / "registry"
    (registry / "hospitals").mkdir(parents=True)
    (registry / "networks.yml").write_text(
        "networks:\n  - {code: NET01, name: Network one}\n", encoding="utf-8"
    )
    tomorrow = bangkok_today() + timedelta(days=1)
    for code, since in ((H1, date(2024, 1, 1)), (H2, tomorrow)):
        (registry / "hospitals" / f"{code}.yml").write_text(
            f"hospital_code: '{code}'\nname: Hospital {code}\nnetwork: NET01\nhealth_region: 1\n"
            f"participating_since: {since.isoformat()}\n"
            "connector: {kind: file43, path: extracts}\n",
            encoding="utf-8",
        )
    return registry


def cli_for(kind: str, settings: Settings) -> CliWarehouse:
    """`healthlink` on the warehouse, home and registry of `settings` (its URL's role)."""
    env = {
        **os.environ,
        "HEALTHLINK_HOME": str(settings.home),
        "HEALTHLINK_REGISTRY_DIR": str(settings.registry_dir),
        "HEALTHLINK_WAREHOUSE": settings.warehouse,
        "HEALTHLINK_PSEUDONYM_KEY": TEST_KEY,
        "HEALTHLINK_ENVIRONMENT": "test",
    }
    return CliWarehouse(kind, env, settings, settings.registry_dir)


def _open(kind: str, root: Path, url: str) -> CliWarehouse:
    settings = Settings(
        home=root / "home",
        warehouse=url,
        registry_dir=_registry(root),
        pseudonym_key=TEST_KEY,  # type: ignore[arg-type]
        environment="test",
    )
    warehouse = cli_for(kind, settings)
    migrated = warehouse.run("migrate")
    assert migrated.returncode == 0, migrated.stderr
    return warehouse


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def cli_warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CliWarehouse]:
    if request.param == "duckdb":
        yield _open("duckdb", tmp_path, "")
        return
    with throwaway_pg_database("healthlink_cli_security") as url:
        yield _open("postgres", tmp_path, url)
