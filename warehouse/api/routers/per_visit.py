"""Per-visit consent requests (physician side) and decisions (citizen-app side).

Only the patient answers a request: the decision endpoint takes the identity provider's token
for the patient (warehouse/api/citizen_identity.py), and acts on that patient's requests only;
a physician's session token (or the app's own credential) is 401, another patient's request
answers as one that does not exist (404 unknown_request). The rules and storage are
warehouse.consent's; refusals carry its reason codes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field

from warehouse import consent
from warehouse.api.citizen_identity import RECORDED_BY_CITIZEN, CurrentCitizen
from warehouse.api.deps import (
    FORBIDDEN,
    NOT_FOUND,
    UNAUTHORIZED,
    BearerToken,
    Context,
    PatientKey,
    physician_session,
)
from warehouse.api.records import visible_patient
from warehouse.audit import trail

router = APIRouter(tags=["per-visit consent"])


class PerVisitRequestBody(BaseModel):
    source_hospitals: list[Annotated[str, Field(pattern=r"^[0-9]{5}$")]] = Field(
        min_length=1, max_length=20, description="Per-visit hospitals (5-digit codes)"
    )


class PerVisitRequestOut(BaseModel):
    request_id: str
    status: str
    source_hospitals: list[str]
    requested_at: datetime
    expires_at: datetime


class Decision(BaseModel):
    """The patient is the token's subject; the body says only what they decided."""

    decision: Literal["approve", "decline"]


def _out(request: consent.PerVisitRequest) -> PerVisitRequestOut:
    return PerVisitRequestOut(
        request_id=request.request_id,
        status=request.status,
        source_hospitals=list(request.source_hospitals),
        requested_at=request.requested_at,
        expires_at=request.expires_at,
    )


@router.post(
    "/patients/{patient_key}/per-visit-requests",
    response_model=PerVisitRequestOut,
    status_code=status.HTTP_201_CREATED,
    responses={**UNAUTHORIZED, **FORBIDDEN, **NOT_FOUND, 409: {"description": "refused"}},
)
def request_per_visit(
    patient_key: PatientKey, body: PerVisitRequestBody, token: BearerToken, context: Context
) -> PerVisitRequestOut:
    """Ask the patient (in the citizen app) to let this physician see per-visit hospitals."""
    refused: str | None = None
    request = None
    with context.connect() as conn:
        physician = physician_session(conn, context, token)
        assert physician.hospital_code is not None
        with conn.transaction():
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
                            body.source_hospitals,
                        )
                except consent.ConsentRefused as error:
                    refused = error.reason_code
            trail.append(
                conn,
                trail.AuditEntry(
                    action="per_visit_request",
                    outcome="ok"
                    if request
                    else ("not_found" if not found else f"refused:{refused}"),
                    physician_licence=physician.licence,
                    physician_hospital_code=physician.hospital_code,
                    patient_key=patient_key,
                    source_hospitals=list(body.source_hospitals),
                ),
            )
        context.head_exporter.maybe_export(conn)
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "patient_not_found")
    if request is None:
        raise HTTPException(status.HTTP_409_CONFLICT, refused)
    return _out(request)


@router.post(
    "/citizen-app/per-visit-requests/{request_id}/decision",
    response_model=PerVisitRequestOut,
    responses={
        **UNAUTHORIZED,
        404: {"description": "unknown_request: no such request for this patient"},
        409: {"description": "refused (closed or expired)"},
        503: {"description": "no identity provider key is configured"},
    },
)
def decide(
    request_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
    body: Decision,
    citizen: CurrentCitizen,
    context: Context,
) -> PerVisitRequestOut:
    """The patient (the token's subject) approves or declines their own request."""
    decide_fn = consent.approve if body.decision == "approve" else consent.decline
    decided: consent.PerVisitRequest | None = None
    refused = ""
    with context.connect() as conn:
        try:
            with context.consent_service(conn) as consent_conn:
                decided = decide_fn(
                    consent_conn, citizen.patient_key, request_id, recorded_by=RECORDED_BY_CITIZEN
                )
        except consent.ConsentRefused as error:
            refused = error.reason_code
        with conn.transaction():
            trail.append(
                conn,
                trail.AuditEntry(
                    action=f"citizen_per_visit_{body.decision}",
                    outcome="ok" if decided else f"refused:{refused}",
                    patient_key=citizen.patient_key,
                    source_hospitals=list(decided.source_hospitals) if decided else [],
                    purpose="citizen_app",
                ),
            )
        context.head_exporter.maybe_export(conn)
    if decided is None:
        code = (
            status.HTTP_404_NOT_FOUND if refused == "unknown_request" else status.HTTP_409_CONFLICT
        )
        raise HTTPException(code, refused)
    return _out(decided)
