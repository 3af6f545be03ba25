"""ops.*: batches, per-entity counts, rejects, quarantines, validation documents, run
summaries, the dbt queue, the schema fingerprint, and the consent effects' checkpoints."""

from __future__ import annotations

OPS_DDL = [
    "CREATE SCHEMA IF NOT EXISTS ops",
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
        reason VARCHAR, row_hash VARCHAR, source_key VARCHAR)""",
    # Databases made before rejects had a key (a table's primary key, a FHIR resource id).
    "ALTER TABLE ops.reject ADD COLUMN IF NOT EXISTS source_key VARCHAR",
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
    # Consent effects (warehouse.consent.effects): when each hospital's cohort was last
    # compared with the consent log (UTC).
    """CREATE TABLE IF NOT EXISTS ops.cohort_checkpoint (
        hospital_code VARCHAR PRIMARY KEY, computed_at TIMESTAMP NOT NULL)""",
    # What a hospital's side reads: whose full history to send. Keys only, no identities.
    """CREATE TABLE IF NOT EXISTS ops.history_request (
        hospital_code VARCHAR NOT NULL, extract_date DATE NOT NULL,
        patient_key VARCHAR NOT NULL, reason VARCHAR NOT NULL, requested_at TIMESTAMP NOT NULL,
        fulfilled_on DATE, PRIMARY KEY (hospital_code, extract_date, patient_key))""",
    # The consent purge (warehouse.consent.purge): the event id it has covered.
    """CREATE TABLE IF NOT EXISTS ops.purge_checkpoint (
        through_event_id BIGINT NOT NULL, moved_at TIMESTAMP NOT NULL)""",
]
