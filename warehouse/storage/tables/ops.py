"""ops.*: batches, per-entity counts, rejects, quarantines, validation documents, run
summaries, the dbt queue, the schema fingerprint, the consent effects' checkpoints, and
operations' history: the ledger per hospital per day, the data-quality views over the
batches' counts and rejects, and the dbt test results of each build."""

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
    # A database or FHIR source's extract is a window of update times (connectors.window),
    # UTC; kept on the batch and its quarantine, since the source cannot be read again as
    # it was. NULL for file extracts.
    "ALTER TABLE ops.batch ADD COLUMN IF NOT EXISTS window_start TIMESTAMP",
    "ALTER TABLE ops.batch ADD COLUMN IF NOT EXISTS window_end TIMESTAMP",
    "ALTER TABLE ops.quarantine ADD COLUMN IF NOT EXISTS window_start TIMESTAMP",
    "ALTER TABLE ops.quarantine ADD COLUMN IF NOT EXISTS window_end TIMESTAMP",
    # Records the batch's source said were deleted (raw.deleted_record); not rows read, so
    # outside the accounting read = loaded + rejected + filtered.
    "ALTER TABLE ops.batch ADD COLUMN IF NOT EXISTS rows_deleted BIGINT",
    # Schema drift (warehouse.pipeline.schema_drift): each hospital's sources as last loaded
    # (columns: a JSON list), and every change seen, with the policy that met it.
    """CREATE TABLE IF NOT EXISTS ops.source_schema (
        hospital_code VARCHAR NOT NULL, source VARCHAR NOT NULL, columns VARCHAR NOT NULL,
        extract_date DATE NOT NULL, recorded_at TIMESTAMP NOT NULL,
        PRIMARY KEY (hospital_code, source))""",
    """CREATE TABLE IF NOT EXISTS ops.schema_change (
        hospital_code VARCHAR NOT NULL, extract_date DATE NOT NULL, source VARCHAR NOT NULL,
        change VARCHAR NOT NULL, policy VARCHAR NOT NULL, recorded_at TIMESTAMP NOT NULL)""",
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
    # The ledger (warehouse.pipeline.ops.record_hospital_days): one row per hospital and
    # extract date, participating that day or with a batch; rewritten whole when the day
    # runs again. status: loaded | quarantined | failed | missing (nothing arrived).
    # data_as_of: the latest extract date loaded on or before that day; lag_days and
    # sla_breached measure it against the hospital's freshness_sla_days (registry YAML).
    """CREATE TABLE IF NOT EXISTS ops.hospital_day (
        hospital_code VARCHAR NOT NULL, extract_date DATE NOT NULL, expected BOOLEAN NOT NULL,
        arrived BOOLEAN NOT NULL, status VARCHAR NOT NULL, reason_code VARCHAR, reason VARCHAR,
        rows_read BIGINT, rows_loaded BIGINT, rows_rejected BIGINT, rows_filtered BIGINT,
        rows_quarantined BIGINT, participating_since DATE, data_as_of DATE,
        freshness_sla_days BIGINT NOT NULL, lag_days BIGINT, sla_breached BOOLEAN NOT NULL,
        run_id VARCHAR, recorded_at TIMESTAMP NOT NULL,
        PRIMARY KEY (hospital_code, extract_date))""",
    # Data-quality history, per hospital, extract date and entity (views: the counts have
    # one home, ops.batch_entity and ops.reject). A quarantined day keeps the counts of
    # what was loaded before it, as the raw data does.
    """CREATE OR REPLACE VIEW ops.dq_entity_day AS
        SELECT hospital_code, extract_date, entity, rows_read, rows_loaded, rows_rejected,
               rows_filtered,
               CASE WHEN rows_read > 0
                    THEN CAST(rows_rejected AS DOUBLE PRECISION) / rows_read END AS reject_rate
        FROM ops.batch_entity""",
    """CREATE OR REPLACE VIEW ops.dq_reject_rule AS
        SELECT hospital_code, extract_date, entity, rule, count(*) AS rejects
        FROM ops.reject GROUP BY hospital_code, extract_date, entity, rule""",
    # The dbt tests of each build, from its target/run_results.json
    # (warehouse.pipeline.ops.record_dbt_tests); failures is dbt's count of failing rows; no
    # message is kept (a database error may quote a value).
    """CREATE TABLE IF NOT EXISTS ops.dbt_test_result (
        invocation_id VARCHAR NOT NULL, generated_at TIMESTAMP NOT NULL,
        unique_id VARCHAR NOT NULL, status VARCHAR NOT NULL, failures BIGINT,
        execution_time_s DOUBLE PRECISION,
        PRIMARY KEY (invocation_id, unique_id))""",
    # Alerts (warehouse.pipeline.alerts): raised once per condition, hospital and day from the
    # ledger (hospital_code '*' for the platform: dbt tests, a late run). Codes and counts,
    # never personal data.
    """CREATE TABLE IF NOT EXISTS ops.alert (
        alert_id VARCHAR PRIMARY KEY, condition VARCHAR NOT NULL,
        hospital_code VARCHAR NOT NULL, extract_date DATE NOT NULL, count BIGINT,
        reason_code VARCHAR, detail VARCHAR, raised_at TIMESTAMP NOT NULL,
        UNIQUE (condition, hospital_code, extract_date))""",
    # The outbox: one row per alert and route; the drain sends what is pending and due.
    # last_error keeps the error's class only (a message may quote a URL or a credential).
    """CREATE TABLE IF NOT EXISTS ops.alert_delivery (
        alert_id VARCHAR NOT NULL, route VARCHAR NOT NULL, status VARCHAR NOT NULL,
        attempts BIGINT NOT NULL, last_error VARCHAR, next_attempt_at TIMESTAMP NOT NULL,
        sent_at TIMESTAMP, PRIMARY KEY (alert_id, route))""",
]
