"""A throwaway PostgreSQL warehouse secured by the migration and built by dbt as the transformer.

The dbt tests' fixture (tests/dbt/raw_fixture.py) supplies raw, consent and ops rows; then
warehouse.storage.migrations.apply() creates the schemas, roles and grants, and dbt seeds and builds
connected as healthlink_transformer, so everything it creates is owned by that role, as in
production. Skipped when no PostgreSQL server answers.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.conftest import NO_POSTGRES
from warehouse.pipeline.transform import invoke_dbt

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "dbt"))  # raw_fixture: shared with the dbt tests

SERVER = {
    "host": os.environ.get("HEALTHLINK_PG_HOST", "127.0.0.1"),
    "port": os.environ.get("HEALTHLINK_PG_PORT", "5432"),
    "user": os.environ.get("HEALTHLINK_PG_USER", "postgres"),
    "password": os.environ.get("HEALTHLINK_PG_PASSWORD", ""),
}


def dsn(dbname: str, user: str | None = None) -> str:
    settings = {**SERVER, "dbname": dbname} | ({"user": user} if user else {})
    return " ".join(f"{k}={v}" for k, v in settings.items() if v != "")


@dataclass
class SecuredWarehouse:
    dbname: str
    workdir: Path

    def dsn(self, user: str | None = None) -> str:
        return dsn(self.dbname, user)

    def dbt(self, *args: str) -> None:
        """dbt on this database, connected as the transformer role."""
        env = {
            "DBT_TARGET": "postgres",
            **{f"HEALTHLINK_PG_{k.upper()}": v for k, v in SERVER.items()},
            "HEALTHLINK_PG_USER": "healthlink_transformer",
            "HEALTHLINK_PG_PASSWORD": os.environ.get("HEALTHLINK_PG_TRANSFORMER_PASSWORD", ""),
            "HEALTHLINK_PG_DBNAME": self.dbname,
        }
        result = invoke_dbt(list(args), env, work_dir=self.workdir, quiet=True)
        assert result.success, f"dbt {' '.join(args)} failed: {result.exception}"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredWarehouse]:
    import raw_fixture

    from warehouse.storage import migrations

    try:
        admin = psycopg.connect(dsn("postgres"), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        pytest.fail(NO_POSTGRES, pytrace=False)
    name = f"healthlink_security_test_{uuid.uuid4().hex[:8]}"
    admin.execute(f"CREATE DATABASE {name}")
    try:
        warehouse = SecuredWarehouse(name, tmp_path_factory.mktemp("dbt_security"))
        raw_fixture.build_postgres(warehouse.dsn())
        with psycopg.connect(warehouse.dsn()) as conn:
            migrations.apply(conn)
        warehouse.dbt("seed")
        warehouse.dbt("build")
        yield warehouse
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
