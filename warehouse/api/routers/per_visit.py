"""Per-visit consent requests (physician side) and decisions (citizen-app side).

The citizen app authenticates with its own token from settings, never as a physician. The
rules and storage are warehouse.consent_service's; refusals carry its reason codes.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, status
from pydantic import BaseModel, Field

from warehouse import audit, consent_service
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
    patient_key: str = Field(pattern=r"^[0-9a-f]{32}$")
    decision: Literal["approve", "decline"]


def _out(request: consent_service.PerVisitRequest) -> PerVisitRequestOut:
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
                        request = consent_service.request_access(
                            consent_conn,
                            context.registry,
                            physician.licence,
                            physician.hospital_code,
                            patient_key,
                            body.source_hospitals,
                        )
                except consent_service.ConsentRefused as error:
                    refused = error.reason_code
            audit.append(
                conn,
                audit.AuditEntry(
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


def citizen_app(token: BearerToken, context: Context) -> None:
    expected = context.api.citizen_app_token.get_secret_value()
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "not_authenticated", {"WWW-Authenticate": "Bearer"}
        )


@router.post(
    "/citizen-app/per-visit-requests/{request_id}/decision",
    response_model=PerVisitRequestOut,
    dependencies=[Depends(citizen_app)],
    responses={**UNAUTHORIZED, 409: {"description": "refused (unknown, closed or expired)"}},
)
def decide(
    request_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")], body: Decision, context: Context
) -> PerVisitRequestOut:
    """Stands in for the citizen app: the patient approves or declines a request."""
    decide_fn = consent_service.approve if body.decision == "approve" else consent_service.decline
    with context.connect() as conn, context.consent_service(conn) as consent_conn:
        try:
            return _out(decide_fn(consent_conn, body.patient_key, request_id))
        except consent_service.ConsentRefused as error:
            raise HTTPException(status.HTTP_409_CONFLICT, error.reason_code) from None
