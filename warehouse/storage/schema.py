"""The warehouse package's schema in place: raw, consent, ops, audit and api.

The tables are defined once, in warehouse.storage.tables. `ensure_schema` is the idempotent
migration step (`healthlink migrate`): it creates every table on both dialects (on
PostgreSQL as the migration runner, in one transaction), adds columns newer than an existing
table, retires what older releases left behind, and on PostgreSQL also creates the indexes
and runs `warehouse.storage.migrations.apply(conn)` (roles, grants, row-level security, the
definer functions) and records a fingerprint of everything it applied in ops.schema_state.
`connect()` runs none of it: `setup_schema` is the first-run setup each entry point calls
(the CLI commands, the DAG's prepare task, dbt runs, the API at start-up).

On PostgreSQL the service roles (loader, transformer, api, ...) may not create anything, not
even with IF NOT EXISTS: a database whose fingerprint matches the code's needs no DDL at all
(`schema_is_current`); code newer than the database needs `healthlink migrate` as the
database owner first, and says so.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources

import psycopg

from connectors.contract import CODE_COLUMNS, ENTITIES
from warehouse.clock import to_storage
from warehouse.settings import Settings
from warehouse.storage import migrations
from warehouse.storage.connection import connect
from warehouse.storage.migrations import MIGRATION_LOCK_KEY
from warehouse.storage.protocol import Dialect, WarehouseConnection
from warehouse.storage.tables import AddedColumn
from warehouse.storage.tables.api import API_ADDED_COLUMNS, API_DDL
from warehouse.storage.tables.audit import AUDIT_ADDED_COLUMNS, AUDIT_INDEXES, audit_ddl
from warehouse.storage.tables.consent import CONSENT_ADDED_COLUMNS, CONSENT_DDL, CONSENT_INDEXES
from warehouse.storage.tables.ops import OPS_DDL
from warehouse.storage.tables.raw import RAW_DDL, RAW_EXTRA, RAW_INDEXES, landed_schema, raw_columns

__all__ = [
    "ENTITIES",
    "RAW_EXTRA",
    "SchemaNotMigrated",
    "add_missing_columns",
    "ensure_schema",
    "landed_schema",
    "raw_columns",
    "schema_ddl",
    "schema_fingerprint",
    "schema_is_current",
    "setup_schema",
    "setup_warehouse",
]

# The sources dbt reads and the pipeline writes (raw, consent, ops): the same text on both
# dialects; the dbt test fixtures build these (tests/support/raw_fixture.py).
TABLES_DDL = RAW_DDL + CONSENT_DDL + OPS_DDL
# raw tables created before the contract said which code system a code is in (issue 13).
RAW_ADDED_COLUMNS = [
    AddedColumn(f"raw.{entity}", "code_system", "VARCHAR") for entity in CODE_COLUMNS
]
# What ensure_schema adds to tables older than their columns.
ADDED_COLUMNS = RAW_ADDED_COLUMNS + CONSENT_ADDED_COLUMNS + AUDIT_ADDED_COLUMNS + API_ADDED_COLUMNS
# PostgreSQL only (DuckDB's zone maps serve the same scans).
POSTGRES_INDEXES = RAW_INDEXES + CONSENT_INDEXES + AUDIT_INDEXES


class SchemaNotMigrated(RuntimeError):
    pass


def schema_ddl(dialect: Dialect) -> list[str]:
    """Every table ensure_schema creates on `dialect`, in order: the sources, then the access
    audit and the API's own state."""
    return TABLES_DDL + audit_ddl(dialect) + API_DDL


def schema_fingerprint() -> str:
    """Of every statement ensure_schema runs on PostgreSQL and every migration file, in order."""
    digest = hashlib.sha256()
    for statement in schema_ddl("postgres") + POSTGRES_INDEXES:
        digest.update(statement.encode())
    for added in ADDED_COLUMNS:
        digest.update(repr(added).encode())
    package = resources.files(migrations)
    for name in migrations.migration_files():
        digest.update(name.encode())
        digest.update(package.joinpath(name).read_bytes())
    return digest.hexdigest()[:32]


def schema_is_current(conn: WarehouseConnection) -> bool:
    """PostgreSQL: this code's fingerprint is the one the database was last migrated with.

    Every service role may ask (the API role reads only the fingerprint column, migration 007)."""
    (table,) = conn.execute("SELECT to_regclass('ops.schema_state') IS NOT NULL").fetchone()
    if not table:
        return False
    row = conn.execute("SELECT max(fingerprint) FROM ops.schema_state").fetchone()
    return row is not None and row[0] == schema_fingerprint()


def add_missing_columns(conn: WarehouseConnection, columns: list[AddedColumn]) -> None:
    """Columns newer than their table. Only when missing: ALTER TABLE takes a strong lock."""
    for added in columns:
        schema, table = added.table.split(".")
        present = conn.execute(
            "SELECT 1 FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? AND column_name = ?",
            [schema, table, added.column],
        ).fetchone()
        if not present:
            not_null = " NOT NULL" if added.not_null and conn.dialect == "postgres" else ""
            conn.execute(
                f"ALTER TABLE {added.table} ADD COLUMN IF NOT EXISTS {added.column}"
                f" {added.definition}{not_null}"
            )


def ensure_schema(conn: WarehouseConnection) -> None:
    """Create what is missing (`healthlink migrate`); safe from many processes at once."""
    if conn.dialect == "duckdb":
        _create_tables(conn)  # the file lock already serialises every writer
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(?)", [MIGRATION_LOCK_KEY])
        _create_tables(conn)
        for statement in POSTGRES_INDEXES:
            conn.execute(statement)
        migrations.apply(conn)
        conn.execute("DELETE FROM ops.schema_state")
        conn.execute(
            "INSERT INTO ops.schema_state (fingerprint, migrated_at) VALUES (?, now())",
            [schema_fingerprint()],
        )


def setup_schema(conn: WarehouseConnection) -> None:
    """First-run setup: DuckDB creates what is missing (the embedded default just works);
    PostgreSQL migrates only when the database is behind the code, and a role that may not
    (every service role, the API's included) is told to run `healthlink migrate` as the
    database owner."""
    if conn.dialect == "duckdb" or not schema_is_current(conn):
        try:
            ensure_schema(conn)
        except psycopg.errors.InsufficientPrivilege as error:
            raise SchemaNotMigrated(
                "the warehouse database is not migrated to this version and this "
                "role may not create objects: run `healthlink migrate` as the "
                "database owner first"
            ) from error


def setup_warehouse(settings: Settings | None = None) -> None:
    """setup_schema on a connection of its own: what an entry point calls first."""
    with connect(settings) as conn:
        setup_schema(conn)


def _create_tables(conn: WarehouseConnection) -> None:
    for statement in schema_ddl(conn.dialect):
        conn.execute(statement)
    add_missing_columns(conn, ADDED_COLUMNS)
    if conn.dialect == "duckdb":
        _move_legacy_notifications(conn)


def _move_legacy_notifications(conn: WarehouseConnection) -> None:
    """DuckDB warehouses from before issue 9: api.patient_notification held break-glass
    notifications nobody read; they move into the patient's list (consent.notification, the
    form warehouse.consent.notifications writes) and the table goes (PostgreSQL: migration
    011 does the same)."""
    if not conn.execute(
        "SELECT 1 FROM information_schema.tables"
        " WHERE table_schema = 'api' AND table_name = 'patient_notification'"
    ).fetchone():
        return
    rows = conn.execute(
        "SELECT patient_key, physician_licence, physician_hospital_code, reason,"
        " source_hospitals, created_at FROM api.patient_notification ORDER BY created_at"
    ).fetchall()
    with conn.transaction():
        for key, licence, hospital, reason, sources, created_at in rows:
            payload = {
                "physician_licence": licence,
                "physician_hospital_code": hospital,
                "reason": reason,
                "source_hospitals": [code for code in (sources or "").split(",") if code],
            }
            conn.execute(
                "INSERT INTO consent.notification (notification_id, patient_key, kind,"
                " payload, event_id, created_at)"
                " VALUES (nextval('consent.notification_id_seq'), ?, 'break_glass', ?, NULL, ?)",
                [
                    key,
                    json.dumps(payload, sort_keys=True, ensure_ascii=False),
                    to_storage(created_at),
                ],
            )
        conn.execute("DROP TABLE api.patient_notification")
