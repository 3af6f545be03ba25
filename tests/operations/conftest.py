"""A warehouse with one hospital's day ingested through the real command, built once per
session (the rejects and metrics tests share it; they add to it, never remove)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.dag_deployment import Deployment
from tests.support.machine import START


@pytest.fixture(scope="session")
def loaded(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Deployment, str]:
    """A warehouse with one hospital's day loaded, the first hospital that has rejects."""
    deployment = Deployment(tmp_path_factory.mktemp("rejects"), small_dataset)
    deployment.healthlink("migrate")
    deployment.healthlink("consent", "import", str(small_dataset / "consent" / "registrations.csv"))
    for path in sorted((small_dataset / "registry" / "hospitals").glob("*.yml")):
        deployment.healthlink("ingest", "--hospital", path.stem, "--date", START.isoformat())
        if deployment.query("SELECT count(*) FROM ops.reject WHERE hospital_code = ?", [path.stem])[
            0
        ][0]:
            return deployment, path.stem
    raise AssertionError("the small dataset carries injected errors: some hospital rejects rows")
