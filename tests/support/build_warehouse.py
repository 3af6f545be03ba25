"""Build the API tests' warehouse in a child process (dbt-duckdb keeps its file handle open
for the life of the process that ran it, which would lock the API server out).

Usage: python -m tests.support.build_warehouse HOME DATASET [POSTGRESQL_URL]
(with a URL the same pipeline builds that PostgreSQL database instead of the DuckDB file: set
up by the URL's owner, loaded as healthlink_loader, built by dbt as healthlink_transformer)
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from tests.support.machine import START, TEST_KEY
from warehouse.consent.sender_choice import import_registrations, sync_hospitals
from warehouse.hospital_registry import load_registry
from warehouse.pipeline.batch import sync_batch
from warehouse.pipeline.transform import run_dbt
from warehouse.settings import LOADER_ROLE, Settings, url_for_role
from warehouse.storage.connection import connect
from warehouse.storage.schema import setup_schema


def build(home: Path, dataset: Path, warehouse: str = "") -> None:
    settings = Settings(
        home=home,
        registry_dir=dataset / "registry",
        pseudonym_key=TEST_KEY,  # type: ignore[arg-type]
        environment="test",
        warehouse=warehouse,
    )
    registry = load_registry(settings.registry_dir)
    with connect(settings) as conn:
        setup_schema(conn)
        sync_hospitals(conn, registry)
        import_registrations(conn, dataset / "consent" / "registrations.csv", TEST_KEY.encode())
    if settings.uses_postgres:  # the owner set it up; the daily sync runs as in production
        settings = settings.model_copy(update={"warehouse": url_for_role(warehouse, LOADER_ROLE)})
    for day in (START, START + timedelta(days=1)):
        for hospital in registry.hospitals.values():
            sync_batch(hospital, day, settings=settings)
    run_dbt(["build", "--quiet"], settings)  # as healthlink_transformer on PostgreSQL


if __name__ == "__main__":
    build(Path(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:4])
