"""The API's own state (DESIGN §6): physicians, admins, sessions, lockouts, terms, ratings,
per-visit requests, in schema `api` (patient notifications live in consent.notification,
the citizen app's list). Portable DDL (DuckDB and PostgreSQL). Timestamps are naive UTC."""

from __future__ import annotations

from warehouse.api.name_index import NAME_INDEX_DDL
from warehouse.api.throttle import LOGIN_THROTTLE_DDL
from warehouse.audit.trail import ensure_audit_schema
from warehouse.storage.connection import WarehouseConnection

API_DDL = [
    "CREATE SCHEMA IF NOT EXISTS api",
    """CREATE TABLE IF NOT EXISTS api.physician (
        licence VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, status VARCHAR NOT NULL,
        pincode_hash VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, changed_at TIMESTAMP)""",
    # A membership: its status is the hospital's (admins suspend memberships, not people).
    """CREATE TABLE IF NOT EXISTS api.physician_hospital (
        licence VARCHAR NOT NULL, hospital_code VARCHAR NOT NULL,
        status VARCHAR NOT NULL DEFAULT 'active', changed_at TIMESTAMP,
        PRIMARY KEY (licence, hospital_code))""",
    """CREATE TABLE IF NOT EXISTS api.admin_account (
        username VARCHAR PRIMARY KEY, hospital_code VARCHAR NOT NULL,
        password_hash VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS api.terms_acceptance (
        licence VARCHAR NOT NULL, terms_version VARCHAR NOT NULL, accepted_at TIMESTAMP NOT NULL,
        PRIMARY KEY (licence, terms_version))""",
    """CREATE TABLE IF NOT EXISTS api.session (
        token_hash VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, subject VARCHAR NOT NULL,
        hospital_code VARCHAR, created_at TIMESTAMP NOT NULL, expires_at TIMESTAMP NOT NULL,
        ended_at TIMESTAMP, ended_reason VARCHAR)""",
    LOGIN_THROTTLE_DDL,
    """CREATE TABLE IF NOT EXISTS api.rating_ticket (
        ticket_hash VARCHAR PRIMARY KEY, hospital_code VARCHAR, issued_at TIMESTAMP NOT NULL,
        used_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS api.rating (
        hospital_code VARCHAR, score INTEGER NOT NULL, comment VARCHAR,
        rated_at TIMESTAMP NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS api.per_visit_request (
        request_id VARCHAR NOT NULL, physician_licence VARCHAR NOT NULL,
        physician_hospital_code VARCHAR NOT NULL, patient_key VARCHAR NOT NULL,
        source_hospital_code VARCHAR NOT NULL, status VARCHAR NOT NULL,
        requested_at TIMESTAMP NOT NULL, decided_at TIMESTAMP,
        PRIMARY KEY (request_id, source_hospital_code))""",
]


# Columns added since the first release, for warehouses whose tables predate them (existing
# memberships stay active). Added only when missing: ALTER TABLE takes a strong lock.
_ADDED_COLUMNS = [
    ("physician_hospital", "status", "VARCHAR DEFAULT 'active'"),
    ("physician_hospital", "changed_at", "TIMESTAMP"),
]


def _upgrade(conn: WarehouseConnection) -> None:
    for table, column, definition in _ADDED_COLUMNS:
        present = conn.execute(
            "SELECT 1 FROM information_schema.columns "
            "WHERE table_schema = 'api' AND table_name = ? AND column_name = ?",
            [table, column],
        ).fetchone()
        if not present:
            conn.execute(f"ALTER TABLE api.{table} ADD COLUMN IF NOT EXISTS {column} {definition}")
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
