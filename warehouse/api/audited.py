"""Audit this patient-touching request: the one helper every such service uses.

    with audited(context, conn, physician) as audit:
        ...  # the read or the change
        audit.record("record", "ok", patient_key=key, ...)

The work and its audit row commit in ONE transaction (a failure rolls back both), and the
chain head is exported to the sink after the commit (warehouse.audit.trail). Leaving the
block without a row is a bug, refused as one: no patient-touching request goes unaudited.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from warehouse.api.context import ApiContext
from warehouse.api.sessions import PhysicianSession
from warehouse.audit.trail import AuditEntry, AuditTrail
from warehouse.storage.connection import WarehouseConnection


class UnauditedRequest(RuntimeError):
    """A patient-touching request ended its transaction without writing its audit row."""


@dataclass
class Audit:
    """The audit row of one request, with the physician's licence and hospital filled in."""

    conn: WarehouseConnection
    trail: AuditTrail
    physician: PhysicianSession | None
    written: bool = False

    def record(self, action: str, outcome: str, **fields: Any) -> None:
        if self.physician is not None:
            fields = {
                "physician_licence": self.physician.licence,
                "physician_hospital_code": self.physician.hospital_code,
                **fields,
            }
        self.trail.append(self.conn, AuditEntry(action=action, outcome=outcome, **fields))
        self.written = True


@contextmanager
def audited(
    context: ApiContext, conn: WarehouseConnection, physician: PhysicianSession | None = None
) -> Iterator[Audit]:
    """One transaction for the work and its audit row; the head exported after the commit.
    `physician` None: the citizen app's calls (the patient acts for themselves)."""
    audit = Audit(conn, context.audit, physician)
    with conn.transaction():
        yield audit
        if not audit.written:
            raise UnauditedRequest("a patient-touching request wrote no audit row")
    context.audit.export_committed()
