"""consent.*: hospitals mirrored from the registry, the append-only event log and its
projections (patient consent, sender choices, per-visit grants), notifications, per-visit
requests and the purge log (warehouse.consent writes them)."""

from __future__ import annotations

from warehouse.storage.tables import AddedColumn

CONSENT_DDL = [
    "CREATE SCHEMA IF NOT EXISTS consent",
    "CREATE SEQUENCE IF NOT EXISTS consent.event_id_seq",
    "CREATE SEQUENCE IF NOT EXISTS consent.notification_id_seq",
    "CREATE SEQUENCE IF NOT EXISTS consent.purge_id_seq",
    """CREATE TABLE IF NOT EXISTS consent.hospital (
        hospital_code VARCHAR PRIMARY KEY, hospital_name VARCHAR, network_code VARCHAR,
        network_name VARCHAR, participating_since DATE, per_visit_consent BOOLEAN)""",
    """CREATE TABLE IF NOT EXISTS consent.patient_consent (
        patient_key VARCHAR PRIMARY KEY, status VARCHAR NOT NULL, sender_scope VARCHAR NOT NULL,
        sensitive_allowed BOOLEAN NOT NULL, registered_on DATE, changed_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS consent.patient_sender (
        patient_key VARCHAR NOT NULL, kind VARCHAR NOT NULL, code VARCHAR NOT NULL)""",
    # break_glass: a break-glass opening is recorded as a grant so flagged (PostgreSQL:
    # consent.open_break_glass, migration 007), lapsing when the opening transaction ends.
    """CREATE TABLE IF NOT EXISTS consent.per_visit_grant (
        physician_licence VARCHAR, physician_hospital_code VARCHAR, patient_key VARCHAR,
        source_hospital_code VARCHAR, granted_at TIMESTAMP, expires_at TIMESTAMP,
        break_glass BOOLEAN NOT NULL DEFAULT false)""",
    # occurred_at and verified_at hold UTC; payloads never hold national IDs or names.
    """CREATE TABLE IF NOT EXISTS consent.event (
        event_id BIGINT PRIMARY KEY, patient_key VARCHAR, event_type VARCHAR NOT NULL,
        payload VARCHAR NOT NULL, occurred_at TIMESTAMP NOT NULL, recorded_by VARCHAR NOT NULL,
        verification_method VARCHAR, verified_at TIMESTAMP)""",
    "CREATE INDEX IF NOT EXISTS event_patient_idx ON consent.event (patient_key)",
    """CREATE TABLE IF NOT EXISTS consent.notification (
        notification_id BIGINT PRIMARY KEY, patient_key VARCHAR NOT NULL, kind VARCHAR NOT NULL,
        payload VARCHAR NOT NULL, event_id BIGINT, created_at TIMESTAMP NOT NULL,
        read_at TIMESTAMP)""",
    """CREATE TABLE IF NOT EXISTS consent.per_visit_request (
        request_id VARCHAR PRIMARY KEY, physician_licence VARCHAR NOT NULL,
        physician_hospital_code VARCHAR NOT NULL, patient_key VARCHAR NOT NULL,
        source_hospitals VARCHAR NOT NULL, status VARCHAR NOT NULL,
        requested_at TIMESTAMP NOT NULL, decided_at TIMESTAMP, expires_at TIMESTAMP NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS consent.purge_log (
        purge_id BIGINT PRIMARY KEY, purged_at TIMESTAMP NOT NULL, pairs BIGINT NOT NULL,
        patients BIGINT NOT NULL, hospitals BIGINT NOT NULL, rows_raw BIGINT NOT NULL,
        rows_marts BIGINT NOT NULL, landing_files_rewritten BIGINT NOT NULL,
        detail VARCHAR NOT NULL)""",
]

CONSENT_ADDED_COLUMNS = [
    AddedColumn("consent.per_visit_grant", "break_glass", "BOOLEAN DEFAULT false", not_null=True),
]

# PostgreSQL only: row-level security asks "may this patient's rows from this hospital be
# shown?" for every published row (consent.row_allowed, consent.per_visit_gate), by patient.
CONSENT_INDEXES = [
    "CREATE INDEX IF NOT EXISTS patient_sender_patient ON consent.patient_sender (patient_key)",
    "CREATE INDEX IF NOT EXISTS per_visit_grant_patient ON consent.per_visit_grant "
    "(patient_key, source_hospital_code)",
    # The hospitals joining (warehouse.consent.hospitals) look for active LIST choosers only:
    # few, or none under full consent, among a country's consents.
    "CREATE INDEX IF NOT EXISTS patient_consent_active_list ON consent.patient_consent"
    " (patient_key) WHERE status = 'active' AND sender_scope = 'LIST'",
]
