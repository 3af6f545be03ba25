"""Audit this patient-touching request: the one helper every such service uses.

    with audited(context, conn, physician) as audit:
        ...  # the read or the change
        audit.record("record", "ok", patient_key=key, ...)

The actor is a physician's session, an ops session (the operations page reads the ledger) or
None (the citizen app's calls: the patient acts for themselves); each session says how it
appears in the audit (`audit_fields`).

The work and its audit row commit in ONE transaction (a failure rolls back both), and the
chain head is exported to the sink after the commit (warehouse.audit.trail). Leaving the
block without a row is a bug, refused as one: no patient-touching request goes unaudited.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from warehouse.api.context import ApiContext
from warehouse.audit.trail import AuditEntry, AuditTrail
from warehouse.storage.connection import WarehouseConnection


class UnauditedRequest(RuntimeError):
    """A patient-touching request ended its transaction without writing its audit row."""


class AuditActor(Protocol):
    """Who acts: the audit columns that name them (warehouse.api.sessions)."""

    def audit_fields(self) -> dict[str, Any]: ...


@dataclass
class Audit:
    """The audit row of one request, with the actor's columns filled in."""

    conn: WarehouseConnection
    trail: AuditTrail
    actor: AuditActor | None
    written: bool = False

    def record(self, action: str, outcome: str, **fields: Any) -> None:
        if self.actor is not None:
            fields = {**self.actor.audit_fields(), **fields}
        self.trail.append(self.conn, AuditEntry(action=action, outcome=outcome, **fields))
        self.written = True


@contextmanager
def audited(
    context: ApiContext, conn: WarehouseConnection, actor: AuditActor | None = None
) -> Iterator[Audit]:
    """One transaction for the work and its audit row; the head exported after the commit."""
    audit = Audit(conn, context.audit, actor)
    with conn.transaction():
        yield audit
        if not audit.written:
            raise UnauditedRequest("a patient-touching request wrote no audit row")
    context.audit.export_committed()
