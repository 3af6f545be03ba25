"""A throwaway PostgreSQL warehouse secured by the migration and built by dbt as the transformer.

The dbt tests' fixture (tests/support/raw_fixture.py) supplies raw, consent and ops rows; then
warehouse.storage.schema.ensure_schema (`healthlink migrate`) creates the rest (the audit and API
tables), the schemas, roles and grants, and dbt seeds and builds connected as
healthlink_transformer, so everything it creates is owned by that role, as in production.
Fails (never skips) when no PostgreSQL server answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from tests.support.machine import NO_POSTGRES
from tests.support.machine import pg_dsn as dsn
from tests.support.secured_warehouse import SecuredWarehouse


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredWarehouse]:
    from tests.support import raw_fixture
    from warehouse.storage.postgres import connect_postgres
    from warehouse.storage.schema import ensure_schema

    try:
        admin = psycopg.connect(dsn("postgres"), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        pytest.fail(NO_POSTGRES, pytrace=False)
    name = f"healthlink_security_test_{uuid.uuid4().hex[:8]}"
    admin.execute(f"CREATE DATABASE {name}")
    try:
        warehouse = SecuredWarehouse(name, tmp_path_factory.mktemp("dbt_security"))
        raw_fixture.build_postgres(warehouse.dsn())
        with connect_postgres(warehouse.dsn()) as conn:
            ensure_schema(conn)
        warehouse.dbt("seed")
        warehouse.dbt("build")
        yield warehouse
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
