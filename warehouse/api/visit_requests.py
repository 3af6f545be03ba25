"""Per-visit consent requests (a physician asks) and decisions (the patient answers), each
audited (warehouse.api.audited). The rules and storage are warehouse.consent's; a refusal
comes back as its reason code, for the router to answer (warehouse/api/routers/per_visit.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from warehouse import consent
from warehouse.api.audited import audited
from warehouse.api.citizen_identity import RECORDED_BY_CITIZEN
from warehouse.api.context import ApiContext
from warehouse.api.records import visible_patient
from warehouse.api.sessions import PhysicianSession
from warehouse.storage.connection import WarehouseConnection


@dataclass(frozen=True)
class Outcome:
    """The request (made or decided), or why not: `refused` is a consent reason code, or
    "patient_not_found" when no visible patient has the key."""

    request: consent.PerVisitRequest | None
    refused: str | None = None


PATIENT_NOT_FOUND = "patient_not_found"


def request_access(
    context: ApiContext,
    conn: WarehouseConnection,
    physician: PhysicianSession,
    patient_key: str,
    source_hospitals: list[str],
) -> Outcome:
    """Ask the patient to let this physician see these per-visit hospitals."""
    assert physician.hospital_code is not None  # physician_session(ready=True)
    refused: str | None = None
    request = None
    with audited(context, conn, physician) as audit:
        found = visible_patient(conn, patient_key) is not None
        if found:
            try:
                with context.consent_service(conn) as consent_conn:
                    request = consent.request_access(
                        consent_conn,
                        context.registry,
                        physician.licence,
                        physician.hospital_code,
                        patient_key,
                        source_hospitals,
                    )
            except consent.ConsentRefused as error:
                refused = error.reason_code
        audit.record(
            "per_visit_request",
            "ok" if request else ("not_found" if not found else f"refused:{refused}"),
            patient_key=patient_key,
            source_hospitals=list(source_hospitals),
        )
    if not found:
        return Outcome(None, PATIENT_NOT_FOUND)
    return Outcome(request, refused)


def decide(
    context: ApiContext,
    conn: WarehouseConnection,
    patient_key: str,
    request_id: str,
    decision: Literal["approve", "decline"],
) -> Outcome:
    """The patient approves or declines their own request (another's is unknown_request)."""
    decide_fn = consent.approve if decision == "approve" else consent.decline
    decided: consent.PerVisitRequest | None = None
    refused = ""
    try:
        with context.consent_service(conn) as consent_conn:
            decided = decide_fn(
                consent_conn, patient_key, request_id, recorded_by=RECORDED_BY_CITIZEN
            )
    except consent.ConsentRefused as error:
        refused = error.reason_code
    with audited(context, conn) as audit:
        audit.record(
            f"citizen_per_visit_{decision}",
            "ok" if decided else f"refused:{refused}",
            patient_key=patient_key,
            source_hospitals=list(decided.source_hospitals) if decided else [],
            purpose="citizen_app",
        )
    return Outcome(decided, None if decided else refused)
