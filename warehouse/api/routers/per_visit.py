"""Per-visit consent requests (physician side) and decisions (citizen-app side).

Only the patient answers a request: the decision endpoint takes the identity provider's token
for the patient (warehouse/api/citizen_identity.py), and acts on that patient's requests only;
a physician's session token (or the app's own credential) is 401, another patient's request
answers as one that does not exist (404 unknown_request). The rules and storage are
warehouse.consent's; refusals carry its reason codes. The work and its audit row are
warehouse.api.visit_requests'.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field

from warehouse import consent
from warehouse.api import deps, visit_requests
from warehouse.api.citizen_identity import CurrentCitizen

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
    responses={**deps.PATIENT_READ_ERRORS, 409: {"description": "refused"}},
)
def request_per_visit(
    patient_key: deps.PatientKey,
    body: PerVisitRequestBody,
    token: deps.BearerToken,
    context: deps.Context,
) -> PerVisitRequestOut:
    """Ask the patient (in the citizen app) to let this physician see per-visit hospitals."""
    with context.connect() as conn:
        physician = deps.physician_session(conn, context, token)
        outcome = visit_requests.request_access(
            context, conn, physician, patient_key, list(body.source_hospitals)
        )
    if outcome.refused == visit_requests.PATIENT_NOT_FOUND:
        raise HTTPException(status.HTTP_404_NOT_FOUND, visit_requests.PATIENT_NOT_FOUND)
    if outcome.request is None:
        raise HTTPException(status.HTTP_409_CONFLICT, outcome.refused)
    return _out(outcome.request)


@router.post(
    "/citizen-app/per-visit-requests/{request_id}/decision",
    response_model=PerVisitRequestOut,
    responses={
        **deps.UNAUTHORIZED,
        404: {"description": "unknown_request: no such request for this patient"},
        409: {"description": "refused (closed or expired)"},
        503: {"description": "no identity provider key is configured"},
    },
)
def decide(
    request_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
    body: Decision,
    citizen: CurrentCitizen,
    context: deps.Context,
) -> PerVisitRequestOut:
    """The patient (the token's subject) approves or declines their own request."""
    with context.connect() as conn:
        outcome = visit_requests.decide(
            context, conn, citizen.patient_key, request_id, body.decision
        )
    if outcome.request is None:
        code = (
            status.HTTP_404_NOT_FOUND
            if outcome.refused == "unknown_request"
            else status.HTTP_409_CONFLICT
        )
        raise HTTPException(code, outcome.refused)
    return _out(outcome.request)
