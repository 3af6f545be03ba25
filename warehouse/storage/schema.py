"""Tables the warehouse package owns: raw (loaded batches), consent and ops.

dbt owns everything downstream (staging, intermediate, marts, published). Raw tables
follow the canonical contract minus the national ID (kept only in raw.patient) plus the
pseudonymous key, a content hash and the first time that content was received.

The DDL is written once for both dialects (VARCHAR, BIGINT, DOUBLE PRECISION, DATE,
TIMESTAMP, BOOLEAN mean the same on DuckDB and PostgreSQL). `ensure_schema` is the
idempotent migration step (`healthlink migrate`); on PostgreSQL it also runs
`warehouse.storage.migrations.apply(conn)` (roles, grants, row-level security) when that module
exists, in the same transaction.

On PostgreSQL the service roles (loader, transformer, ...) may not create anything, not even
with IF NOT EXISTS. So the migration also creates the tables the consent service, its effects
and the purge would otherwise create on first use, and records a fingerprint of everything it
applied in ops.schema_state; a connection whose code matches that fingerprint runs no DDL at
all (`schema_is_current`). Code newer than the database needs `healthlink migrate` as the
database owner first, and says so.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from importlib import resources
from typing import TYPE_CHECKING

import pyarrow as pa

from connectors.contract import ENTITIES, schema_for

if TYPE_CHECKING:
    from warehouse.storage.connection import WarehouseConnection

# Any constant: every process migrating the same PostgreSQL database queues on it.
MIGRATION_LOCK_KEY = 4_815_162_342

RAW_EXTRA = [
    pa.field("patient_key", pa.string()),
    pa.field("row_hash", pa.string()),
    pa.field("received_at", pa.timestamp("us")),
]

_SQL_TYPES = {
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.float64(): "DOUBLE PRECISION",
    pa.date32(): "DATE",
    pa.timestamp("us"): "TIMESTAMP",
    pa.bool_(): "BOOLEAN",
}


def raw_columns(entity: str) -> list[pa.Field]:
    """Columns of raw.<entity>, in order."""
    dropped = {"invalid_fields"} | (set() if entity == "patient" else {"cid"})
    return [f for f in schema_for(entity) if f.name not in dropped] + RAW_EXTRA


def landed_schema(entity: str) -> pa.Schema:
    """What the landing zone holds: raw columns without received_at (set at load)."""
    return pa.schema([f for f in raw_columns(entity) if f.name != "received_at"])


def _create_table_sql(name: str, fields: list[pa.Field]) -> str:
    columns = ", ".join(f'"{f.name}" {_SQL_TYPES[f.type]}' for f in fields)
    return f"CREATE TABLE IF NOT EXISTS {name} ({columns})"


CONSENT_DDL = [
    """CREATE TABLE IF NOT EXISTS consent.hospital (
        hospital_code VARCHAR PRIMARY KEY, hospital_name VARCHAR, network_code VARCHAR,
        network_name VARCHAR, participating_since DATE, per_visit_consent BOOLEAN)""",
    """CREATE TABLE IF NOT EXISTS consent.patient_consent (
        patient_key VARCHAR PRIMARY KEY, status VARCHAR NOT NULL, sender_scope VARCHAR NOT NULL,
        sensitive_allowed BOOLEAN NOT NULL, registered_on DATE, changed_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS consent.patient_sender (
        patient_key VARCHAR NOT NULL, kind VARCHAR NOT NULL, code VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS consent.per_visit_grant (
        physician_licence VARCHAR, physician_hospital_code VARCHAR, patient_key VARCHAR,
        source_hospital_code VARCHAR, granted_at TIMESTAMP, expires_at TIMESTAMP)""",
]

OPS_DDL = [
    """CREATE TABLE IF NOT EXISTS ops.batch (
        hospital_code VARCHAR NOT NULL, extract_date DATE NOT NULL, batch_id VARCHAR,
        run_id VARCHAR, status VARCHAR NOT NULL, rows_read BIGINT, rows_loaded BIGINT,
        rows_rejected BIGINT, rows_filtered BIGINT, rows_quarantined BIGINT,
        reason_code VARCHAR, reason VARCHAR, landing_path VARCHAR,
        started_at TIMESTAMP, finished_at TIMESTAMP, duration_s DOUBLE PRECISION,
        PRIMARY KEY (hospital_code, extract_date))""",
    """CREATE TABLE IF NOT EXISTS ops.batch_entity (
        hospital_code VARCHAR NOT NULL, extract_date DATE NOT NULL, entity VARCHAR NOT NULL,
        rows_read BIGINT, rows_loaded BIGINT, rows_rejected BIGINT, rows_filtered BIGINT,
        PRIMARY KEY (hospital_code, extract_date, entity))""",
    """CREATE TABLE IF NOT EXISTS ops.reject (
        hospital_code VARCHAR NOT NULL, extract_date DATE NOT NULL, batch_id VARCHAR,
        entity VARCHAR, source_file VARCHAR, source_line BIGINT, field VARCHAR, rule VARCHAR,
        reason VARCHAR, row_hash VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS ops.quarantine (
        hospital_code VARCHAR NOT NULL, extract_date DATE NOT NULL, batch_id VARCHAR,
        reason_code VARCHAR, reason VARCHAR, files VARCHAR, rows_read BIGINT,
        rows_rejected BIGINT, quarantined_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS ops.validation_result (
        hospital_code VARCHAR NOT NULL, extract_date DATE NOT NULL, entity VARCHAR NOT NULL,
        document VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS ops.transform_pending (
        hospital_code VARCHAR NOT NULL, extract_date DATE NOT NULL,
        PRIMARY KEY (hospital_code, extract_date))""",
    # The fingerprint of the code that last migrated this database (PostgreSQL).
    """CREATE TABLE IF NOT EXISTS ops.schema_state (
        fingerprint VARCHAR NOT NULL, migrated_at TIMESTAMP NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS ops.run_summary (
        run_id VARCHAR NOT NULL, extract_date DATE NOT NULL, hospital_code VARCHAR NOT NULL,
        status VARCHAR, rows_read BIGINT, rows_loaded BIGINT, rows_rejected BIGINT,
        rows_filtered BIGINT, reason VARCHAR, duration_s DOUBLE PRECISION, data_as_of DATE,
        recorded_at TIMESTAMP)""",
]


# PostgreSQL only: the loader deletes a (hospital, day) and looks up first-seen hashes
# per hospital; DuckDB's zone maps serve the same scans without an index to maintain.
POSTGRES_INDEXES = [
    f"CREATE INDEX IF NOT EXISTS {entity}_hospital_day ON raw.{entity} "
    "(hospital_code, extract_date)"
    for entity in ENTITIES
] + [
    f"CREATE INDEX IF NOT EXISTS {entity}_hospital_hash ON raw.{entity} (hospital_code, row_hash)"
    for entity in ENTITIES
]

# PostgreSQL only: the daily purge deletes the rows of the few patients whose consent
# narrowed (warehouse.consent.purge); without this index that is a scan of every raw
# table, every day. It costs the load about 15% (2.3 s on 1M rows).
POSTGRES_INDEXES += [
    f"CREATE INDEX IF NOT EXISTS {entity}_patient ON raw.{entity} (patient_key)"
    for entity in ENTITIES
]

# PostgreSQL only: row-level security asks "may this patient's rows from this hospital be
# shown?" for every published row (consent.row_allowed, consent.per_visit_gate), by patient.
POSTGRES_INDEXES += [
    "CREATE INDEX IF NOT EXISTS patient_sender_patient ON consent.patient_sender (patient_key)",
    "CREATE INDEX IF NOT EXISTS per_visit_grant_patient ON consent.per_visit_grant "
    "(patient_key, source_hospital_code)",
]


def _create_tables(conn: WarehouseConnection) -> None:
    for schema in ("raw", "consent", "ops"):
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for entity in ENTITIES:
        conn.execute(_create_table_sql(f"raw.{entity}", raw_columns(entity)))
    for statement in CONSENT_DDL + OPS_DDL:
        conn.execute(statement)


def _service_ddl() -> list[str]:
    """Tables the consent service, its effects and the purge create on first use."""
    from warehouse.consent.effects import EFFECT_DDL
    from warehouse.consent.purge import PURGE_DDL
    from warehouse.consent.storage import CONSENT_SERVICE_DDL

    return CONSENT_SERVICE_DDL + EFFECT_DDL + PURGE_DDL


def schema_fingerprint() -> str:
    """Of every statement ensure_schema runs and every migration file, in order."""
    digest = hashlib.sha256()
    for statement in CONSENT_DDL + OPS_DDL + POSTGRES_INDEXES + _service_ddl():
        digest.update(statement.encode())
    for entity in ENTITIES:
        digest.update(_create_table_sql(f"raw.{entity}", raw_columns(entity)).encode())
    if importlib.util.find_spec("warehouse.storage.migrations") is not None:
        package = resources.files("warehouse.storage.migrations")
        for name in sorted(p.name for p in package.iterdir() if p.name.endswith(".sql")):
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


def ensure_schema(conn: WarehouseConnection) -> None:
    """Create what is missing; safe to call on every connection, from many processes."""
    if conn.dialect == "duckdb":
        _create_tables(conn)  # the file lock already serialises every writer
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(?)", [MIGRATION_LOCK_KEY])
        _create_tables(conn)
        for statement in _service_ddl():
            conn.execute(statement)
        for statement in POSTGRES_INDEXES:
            conn.execute(statement)
        _apply_migrations(conn)
        conn.execute("DELETE FROM ops.schema_state")
        conn.execute(
            "INSERT INTO ops.schema_state (fingerprint, migrated_at) VALUES (?, now())",
            [schema_fingerprint()],
        )


def _apply_migrations(conn: WarehouseConnection) -> None:
    """Roles, grants and row-level security (warehouse/migrations), when present."""
    if importlib.util.find_spec("warehouse.storage.migrations") is None:
        return
    apply = getattr(importlib.import_module("warehouse.storage.migrations"), "apply", None)
    if apply is not None:
        apply(conn)
