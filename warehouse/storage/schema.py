"""The warehouse package's schema in place: raw (loaded batches), consent and ops.

The tables are defined once, in warehouse.storage.tables. `ensure_schema` is the idempotent
migration step (`healthlink migrate`); on PostgreSQL it also creates the indexes and runs
`warehouse.storage.migrations.apply(conn)` (roles, grants, row-level security, the audit
tables) in the same transaction, and records a fingerprint of everything it applied in
ops.schema_state. `connect()` runs none of it: `setup_schema` is the first-run setup each
entry point calls (the CLI commands, the DAG's prepare task, dbt runs, the API at start-up).

On PostgreSQL the service roles (loader, transformer, ...) may not create anything, not even
with IF NOT EXISTS: a database whose fingerprint matches the code's needs no DDL at all
(`schema_is_current`); code newer than the database needs `healthlink migrate` as the
database owner first, and says so.
"""

from __future__ import annotations

import hashlib
from importlib import resources

import psycopg

from connectors.contract import ENTITIES
from warehouse.settings import Settings
from warehouse.storage import migrations
from warehouse.storage.connection import connect
from warehouse.storage.migrations import MIGRATION_LOCK_KEY
from warehouse.storage.protocol import WarehouseConnection
from warehouse.storage.tables import AddedColumn
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
    "schema_fingerprint",
    "schema_is_current",
    "setup_schema",
    "setup_warehouse",
]

# What ensure_schema creates on both dialects, in order, and what it adds to older tables.
TABLES_DDL = RAW_DDL + CONSENT_DDL + OPS_DDL
ADDED_COLUMNS = CONSENT_ADDED_COLUMNS
# PostgreSQL only (DuckDB's zone maps serve the same scans).
POSTGRES_INDEXES = RAW_INDEXES + CONSENT_INDEXES


class SchemaNotMigrated(RuntimeError):
    pass


def schema_fingerprint() -> str:
    """Of every statement ensure_schema runs and every migration file, in order."""
    digest = hashlib.sha256()
    for statement in TABLES_DDL + POSTGRES_INDEXES:
        digest.update(statement.encode())
    for added in ADDED_COLUMNS:
        digest.update(repr(added).encode())
    package = resources.files(migrations)
    for name in migrations.migration_files():
        digest.update(name.encode())
        digest.update(package.joinpath(name).read_bytes())
    return digest.hexdigest()[:32]


def schema_is_current(conn: WarehouseConnection) -> bool:
    """PostgreSQL: this code's fingerprint is the one the database was last migrated with."""
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
    is told to run `healthlink migrate` as the database owner."""
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
    for statement in TABLES_DDL:
        conn.execute(statement)
    add_missing_columns(conn, ADDED_COLUMNS)
