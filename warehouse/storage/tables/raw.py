"""raw.<entity>: the canonical contract minus the national ID (kept only in raw.patient),
plus the pseudonymous key, a content hash and the first time that content was received;
raw.deleted_record: the records a source said were deleted (tombstones)."""

from __future__ import annotations

import pyarrow as pa

from connectors.contract import ENTITIES, schema_for

RAW_EXTRA = [
    pa.field("patient_key", pa.string()),
    pa.field("row_hash", pa.string()),
    pa.field("received_at", pa.timestamp("us")),
]

SQL_TYPES = {
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


def create_table_sql(name: str, fields: list[pa.Field]) -> str:
    columns = ", ".join(f'"{f.name}" {SQL_TYPES[f.type]}' for f in fields)
    return f"CREATE TABLE IF NOT EXISTS {name} ({columns})"


# A source's deletions (docs/contract.md "Deletions"; warehouse.pipeline.deletions): the
# records of every entity that the extract of (hospital, day) deleted, one row per record key
# found in the hospital's earlier days when that day was loaded. The source names a record
# by a key prefix (FHIR `<Type>|<id>`), which the load resolves here once, so an Observation's
# vital rows (`<Type>|<id>|<code>`) are tombstoned one by one and dbt joins on equal keys.
# Replaced with the day's rows by every load of that day.
DELETED_RECORD_DDL = """CREATE TABLE IF NOT EXISTS raw.deleted_record (
    hospital_code VARCHAR NOT NULL, extract_date DATE NOT NULL, batch_id VARCHAR NOT NULL,
    entity VARCHAR NOT NULL, record_key VARCHAR NOT NULL,
    PRIMARY KEY (hospital_code, extract_date, entity, record_key))"""

RAW_DDL = [
    "CREATE SCHEMA IF NOT EXISTS raw",
    *(create_table_sql(f"raw.{entity}", raw_columns(entity)) for entity in ENTITIES),
    DELETED_RECORD_DDL,
]

# PostgreSQL only: the loader deletes a (hospital, day) and looks up first-seen hashes
# per hospital; DuckDB's zone maps serve the same scans without an index to maintain.
RAW_INDEXES = [
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
RAW_INDEXES += [
    f"CREATE INDEX IF NOT EXISTS {entity}_patient ON raw.{entity} (patient_key)"
    for entity in ENTITIES
]
