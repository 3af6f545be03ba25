"""audit.*: the keyed, chained access log and the refusal counters (warehouse.audit.trail).

This is the portable form DuckDB gets. On PostgreSQL the migrations define them (003, 006
and 009: an identity column, timestamptz, and the definer functions that append under the
chain lock), since the API role may not create anything in audit.
"""

from __future__ import annotations

AUDIT_DDL = [
    "CREATE SCHEMA IF NOT EXISTS audit",
    """CREATE TABLE IF NOT EXISTS audit.access_log (
        access_id BIGINT PRIMARY KEY, occurred_at TIMESTAMP NOT NULL, physician_licence VARCHAR,
        physician_hospital_code VARCHAR, action VARCHAR NOT NULL, patient_key VARCHAR,
        returned_patients VARCHAR, categories VARCHAR, source_hospitals VARCHAR,
        purpose VARCHAR, outcome VARCHAR NOT NULL, break_glass BOOLEAN NOT NULL,
        reason VARCHAR, prev_hash VARCHAR NOT NULL, row_hash VARCHAR NOT NULL)""",
    # Refusals without an authenticated actor, counted per day, route and status (migration
    # 009 on PostgreSQL): nobody to attribute them to, and one row each would let anyone
    # flood the audit.
    """CREATE TABLE IF NOT EXISTS audit.refusal_count (
        day DATE NOT NULL, route VARCHAR NOT NULL, status_code INTEGER NOT NULL,
        refusals BIGINT NOT NULL, PRIMARY KEY (day, route, status_code))""",
]
