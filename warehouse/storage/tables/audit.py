"""audit.*: the keyed, chained access log and the refusal counters (warehouse.audit.trail).

The one definition on both dialects: `audit_ddl(dialect)` renders it, and
warehouse.storage.schema runs it (`healthlink migrate`, first-run setup). Two columns differ:
on PostgreSQL access_id is an identity column and occurred_at a timestamptz (the form the
first databases got; the API writes aware UTC instants and audit.append_link sets access_id
itself, OVERRIDING SYSTEM VALUE), on DuckDB plain BIGINT and naive UTC TIMESTAMP. What is
PostgreSQL's alone stays in the migrations: the grants (004), the definer functions that
append under the chain lock and read the head (006, 009), since the API role may not touch
the tables themselves.
"""

from __future__ import annotations

from warehouse.storage.protocol import Dialect
from warehouse.storage.tables import AddedColumn

# Columns whose type differs per dialect; everything else is written once below.
_ACCESS_LOG_TYPES: dict[Dialect, dict[str, str]] = {
    "duckdb": {
        "access_id": "BIGINT PRIMARY KEY",
        "occurred_at": "TIMESTAMP NOT NULL",
    },
    "postgres": {
        "access_id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "occurred_at": "TIMESTAMPTZ NOT NULL DEFAULT now()",
    },
}

_ACCESS_LOG = """CREATE TABLE IF NOT EXISTS audit.access_log (
        access_id {access_id}, occurred_at {occurred_at}, physician_licence VARCHAR,
        physician_hospital_code VARCHAR, action VARCHAR NOT NULL, patient_key VARCHAR,
        returned_patients VARCHAR, categories VARCHAR, source_hospitals VARCHAR,
        purpose VARCHAR, outcome VARCHAR NOT NULL, break_glass BOOLEAN NOT NULL,
        reason VARCHAR, prev_hash VARCHAR NOT NULL, row_hash VARCHAR NOT NULL)"""

# Refusals without an authenticated actor, counted per day, route and status: nobody to
# attribute them to, and one row each would let anyone flood the audit. PostgreSQL: the API
# bumps them through audit.count_refusal (migration 009).
_REFUSAL_COUNT = """CREATE TABLE IF NOT EXISTS audit.refusal_count (
        day DATE NOT NULL, route VARCHAR NOT NULL, status_code INTEGER NOT NULL,
        refusals BIGINT NOT NULL, PRIMARY KEY (day, route, status_code))"""


def audit_ddl(dialect: Dialect) -> list[str]:
    """The audit schema's statements for `dialect`, in order."""
    return [
        "CREATE SCHEMA IF NOT EXISTS audit",
        _ACCESS_LOG.format(**_ACCESS_LOG_TYPES[dialect]),
        _REFUSAL_COUNT,
    ]


# The hash chain's columns (docs/api.md "Audit"), added to PostgreSQL logs created before the
# chain (the first release had access_id .. reason only; migration 006 used to add them),
# nullable there as they were; a table created from the definition above has them NOT NULL.
AUDIT_ADDED_COLUMNS = [
    AddedColumn("audit.access_log", column, "VARCHAR")
    for column in (
        "returned_patients",
        "categories",
        "source_hospitals",
        "purpose",
        "outcome",
        "prev_hash",
        "row_hash",
    )
]

# PostgreSQL only: audit.next_link asks on every append whether the keyed chain is anchored;
# this keeps it an index probe.
AUDIT_INDEXES = [
    "CREATE INDEX IF NOT EXISTS access_log_chain_anchor"
    " ON audit.access_log (access_id) WHERE action = 'chain_anchor'",
]
