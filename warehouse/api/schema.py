"""The API's own state (DESIGN §6): physicians, admins, sessions, lockouts, terms, ratings,
per-visit requests, in schema `api` (patient notifications live in consent.notification,
the citizen app's list). The tables are defined in warehouse.storage.tables.api; this module
creates them at the API's start-up and moves what older releases left behind."""

from __future__ import annotations

from warehouse.audit.trail import ensure_audit_schema
from warehouse.storage.connection import WarehouseConnection
from warehouse.storage.schema import add_missing_columns
from warehouse.storage.tables.api import API_ADDED_COLUMNS, API_DDL, NAME_INDEX_DDL


def _upgrade(conn: WarehouseConnection) -> None:
    add_missing_columns(conn, API_ADDED_COLUMNS)
    # The per-licence failure counter that login_throttle replaced.
    if conn.execute(
        "SELECT 1 FROM information_schema.tables "
        "WHERE table_schema = 'api' AND table_name = 'login_failure'"
    ).fetchone():
        conn.execute("DROP TABLE api.login_failure")
    # Break-glass notices of api.patient_notification move to the patient's list (DuckDB).
    from warehouse.api.visit_access import move_legacy_notifications

    move_legacy_notifications(conn)


def ensure_api_schema(conn: WarehouseConnection) -> None:
    """Create what is missing. On PostgreSQL schema api is the migration's (the API role
    owns it but may not create schemas), so only the tables are created here."""
    for statement in API_DDL:
        if conn.dialect == "postgres" and statement.startswith("CREATE SCHEMA"):
            continue
        conn.execute(statement)
    _upgrade(conn)
    for statement in NAME_INDEX_DDL:
        conn.execute(statement)
    ensure_audit_schema(conn)
