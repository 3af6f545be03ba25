"""api.*: the API's own state (DESIGN §6): physicians, admins, ops accounts, sessions,
lockouts, terms, ratings, per-visit requests, request-rate counters and the name-search index.

Patient notifications live in consent.notification (the citizen app's list). Timestamps are
naive UTC. warehouse.storage.schema creates these tables on both dialects (`healthlink
migrate`, first-run setup), so the API runs no DDL at start-up. On PostgreSQL schema api is
the API role's (migration 002) and migration 007 grants it, and hands it, the tables created
here by the migration runner.
"""

from __future__ import annotations

from warehouse.storage.tables import AddedColumn

API_SCHEMA_DDL = "CREATE SCHEMA IF NOT EXISTS api"

LOGIN_THROTTLE_DDL = """CREATE TABLE IF NOT EXISTS api.login_throttle (
    kind VARCHAR NOT NULL, subject VARCHAR NOT NULL, address VARCHAR NOT NULL,
    attempts INTEGER NOT NULL, lockouts INTEGER NOT NULL, locked_until TIMESTAMP,
    last_attempt_at TIMESTAMP NOT NULL,
    PRIMARY KEY (kind, subject, address))"""

API_TABLES_DDL = [
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
    # Operations staff: the operations page only (ledger codes and counts), never patients.
    """CREATE TABLE IF NOT EXISTS api.ops_account (
        username VARCHAR PRIMARY KEY, password_hash VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL)""",
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
# memberships stay active).
API_ADDED_COLUMNS = [
    AddedColumn("api.physician_hospital", "status", "VARCHAR DEFAULT 'active'"),
    AddedColumn("api.physician_hospital", "changed_at", "TIMESTAMP"),
]

# Request-rate counters shared by every API worker (warehouse.api.limits).
RATE_LIMIT_DDL = """CREATE TABLE IF NOT EXISTS api.rate_limit (
    bucket VARCHAR PRIMARY KEY, window_start TIMESTAMP NOT NULL, hits INTEGER NOT NULL)"""

# Blocking keys of the name search (warehouse.api.name_index); the consent purge names these
# tables too (migrations/013 on PostgreSQL).
NAME_INDEX_DDL = [
    "CREATE TABLE IF NOT EXISTS api.name_key (name_key VARCHAR NOT NULL, "
    "patient_key VARCHAR NOT NULL)",
    "CREATE INDEX IF NOT EXISTS name_key_idx ON api.name_key (name_key)",
    "CREATE TABLE IF NOT EXISTS api.name_index_state (built_for VARCHAR NOT NULL)",
]

# Tables of older releases: the per-licence failure counter that login_throttle replaced.
# (api.patient_notification moves into consent.notification first: migration 011 on
# PostgreSQL, warehouse.storage.schema on DuckDB.)
RETIRED_API_DDL = ["DROP TABLE IF EXISTS api.login_failure"]

API_DDL = [API_SCHEMA_DDL, *API_TABLES_DDL, RATE_LIMIT_DDL, *NAME_INDEX_DDL, *RETIRED_API_DDL]
