"""FHIR R4: patient search by national ID (in the body) and $everything as a Bundle."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from warehouse.api import deps, fhir, reads

FHIR_JSON = "application/fhir+json"


class FhirJSONResponse(JSONResponse):
    media_type = FHIR_JSON


router = APIRouter(prefix="/fhir", tags=["fhir"], default_response_class=FhirJSONResponse)


class FhirSearch(BaseModel):
    identifier: str = Field(
        pattern=r"^https://terms\.sil-th\.org/id/th-cid\|[0-9]{13}$",
        description="FHIR token: system|value, e.g. https://terms.sil-th.org/id/th-cid|1234567890123",
    )


class Bundle(BaseModel):
    resourceType: str
    type: str
    total: int
    entry: list[dict[str, Any]]


@router.post("/Patient/_search", response_model=Bundle, responses=deps.SEARCH_ERRORS)
def patient_search(
    body: FhirSearch, token: deps.BearerToken, context: deps.Context
) -> JSONResponse:
    national_id = body.identifier.split("|", 1)[1]
    with context.connect() as conn:
        physician = deps.physician_session(conn, context, token)
        # Over the rate limit the request never gets here (warehouse.api.limits: 429).
        hits = reads.fhir_search(context, conn, physician, national_id)
    return FhirJSONResponse(fhir.search_bundle(hits, national_id))


@router.get(
    "/Patient/{patient_key}/$everything",
    response_model=Bundle,
    responses=deps.PATIENT_READ_ERRORS,
)
def patient_everything(
    patient_key: deps.PatientKey, token: deps.BearerToken, context: deps.Context
) -> JSONResponse:
    """Everything this physician may see now (per-visit gate applied, no break-glass)."""
    with context.connect() as conn:
        physician = deps.physician_session(conn, context, token)
        record, national_id = reads.fhir_everything(context, conn, physician, patient_key)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "patient_not_found")
    return FhirJSONResponse(fhir.everything_bundle(record, national_id))
