"""`healthlink migrate` builds every table from the one definition (warehouse.storage.tables),
on PostgreSQL as on DuckDB, and the API at start-up only checks that it ran: its role creates
nothing and reads nothing in ops but the fingerprint."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from tests.support.machine import pg_dsn, throwaway_pg_database
from tests.support.service_roles import API
from warehouse.settings import Settings
from warehouse.storage.connection import connect
from warehouse.storage.postgres import connect_postgres
from warehouse.storage.protocol import WarehouseConnection
from warehouse.storage.schema import SchemaNotMigrated, ensure_schema, setup_schema

pytestmark = pytest.mark.postgres

SCHEMAS = ("raw", "consent", "ops", "audit", "api")


def _columns(conn: WarehouseConnection) -> set[tuple[str, str, str]]:
    rows = conn.execute(
        "SELECT c.table_schema, c.table_name, c.column_name FROM information_schema.columns AS c"
        " JOIN information_schema.tables AS t ON t.table_schema = c.table_schema"
        "  AND t.table_name = c.table_name"
        f" WHERE t.table_type = 'BASE TABLE' AND c.table_schema IN {SCHEMAS!r}"
    ).fetchall()
    return {(str(s), str(t), str(c)) for s, t, c in rows}


def test_migrate_creates_the_same_tables_on_both_dialects(tmp_path: Path) -> None:
    with connect(Settings(home=tmp_path / "home", environment="test")) as duck:
        ensure_schema(duck)
        on_duckdb = _columns(duck)
    with throwaway_pg_database("healthlink_migrate") as url, connect_postgres(url) as pg:
        ensure_schema(pg)
        on_postgres = _columns(pg)
    assert {t for _, t, _ in on_postgres} >= {"access_log", "refusal_count", "rate_limit"}
    assert on_duckdb == on_postgres


def test_api_start_up_checks_the_migration_and_runs_no_ddl() -> None:
    with throwaway_pg_database("healthlink_migrate") as url, connect_postgres(url) as admin:
        ensure_schema(admin)
        with connect_postgres(pg_dsn(url.rsplit("/", 1)[-1], API)) as api:
            setup_schema(api)  # current: nothing to do, nothing refused
            api.execute("SELECT count(*) FROM api.rate_limit").fetchone()
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                api.execute("SELECT migrated_at FROM ops.schema_state")
            admin.execute("UPDATE ops.schema_state SET fingerprint = 'older code'")
            with pytest.raises(SchemaNotMigrated, match="healthlink migrate"):
                setup_schema(api)
