"""A batch's reject rules applied in memory to what any connector read, for the onboarding
checks: the connector's own rejects, the sync step's national ID rule and every entity's
expectation suite (warehouse/pipeline/batch.py runs the same three before it writes).

Nothing is filtered by consent (no patient is known here) and nothing is written. Shared by
the 43-file folder check (extract_check) and the database / FHIR source check (source_check).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import pyarrow as pa

from connectors.base import Connector, Extract, Reject
from expectations.validate import reject_rate_exceeded, validate_entity
from warehouse.pipeline.batch import BatchPatients, apply_consent

# The date a row is about, per entity, for date ranges (never a birth date; a patient row is
# dated by its last update).
ROW_DATE: Final = ("service_date", "recorded_date", "recorded_at")


@dataclass
class Validated:
    """What a batch would make of an extract: rejects by rule, the rows it would load."""

    rejects: list[Reject] = field(default_factory=list)
    accepted: dict[str, pa.Table] = field(default_factory=dict)  # entity -> rows that pass
    rows_read: int = 0
    rows_rejected: int = 0
    critical: list[str] = field(default_factory=list)  # "<entity>: <failure>"


def apply_batch_rules(extract: Extract, connector: Connector, extract_date: date) -> Validated:
    """Unreadable records, unreadable national IDs, the expectation suites: in memory, each
    reject located as the batch locates it (the connector's row_location: a file line, a
    table and primary key, a resource type and id)."""
    found = Validated(
        rejects=list(extract.rejected),
        rows_read=len(extract.rejected),
        rows_rejected=len(extract.rejected),
    )
    everyone = _EveryoneConsents(extract.tables)
    for entity, table in extract.tables.items():
        found.rows_read += table.num_rows
        readable = everyone.apply(entity, table, connector)
        validation = validate_entity(
            entity, readable.table, extract_date, connector.source_field, connector.row_location
        )
        found.rejects += readable.rejects + validation.rejects
        found.rows_rejected += len(readable.rejects) + validation.rejected_row_count
        found.critical += [f"{entity}: {failure}" for failure in validation.critical_failures]
        found.accepted[entity] = validation.accepted
    return found


class _EveryoneConsents:
    """The sync step's national ID rule with every readable patient let through: the key is
    made for this check and forgotten, so the pseudonyms it makes match nothing anywhere.
    The batch's patients are keyed once for the whole extract, as a batch does."""

    def __init__(self, tables: dict[str, pa.Table]) -> None:
        self.patients = BatchPatients.of(tables.values(), secrets.token_bytes(32))

    def apply(self, entity: str, table: pa.Table, connector: Connector) -> Any:
        return apply_consent(
            entity,
            table,
            self.patients.keys,
            self.patients,
            connector.source_field,
            connector.row_location,
        )


def row_dates(table: pa.Table) -> pa.ChunkedArray | None:
    """The date each row is about (ROW_DATE's first column the entity has), or None."""
    column = next((c for c in ROW_DATE if c in table.column_names), None)
    if column is None:
        return None
    values = table.column(column)
    return values if pa.types.is_date(values.type) else values.cast(pa.date32())


def batch_would_quarantine(
    critical: list[str], rows_read: int, rows_rejected: int, threshold: float
) -> bool:
    """The sync's verdict on a batch, for a check: any critical failure, or more rejects than
    the threshold allows (a check filters nobody by consent, so nothing is set aside)."""
    return bool(critical) or reject_rate_exceeded(rows_read, rows_rejected, 0, threshold)
