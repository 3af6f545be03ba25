"""Patient search and the patient record (per-visit gated; break-glass), every call audited.

The handlers resolve the session and shape the answer; warehouse.api.reads reads and writes
the audit row in ONE transaction, then exports the chain head after the commit. A withdrawn
patient and a key that never existed take the same path to the same 404 body.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from warehouse.api import reads, visit_access
from warehouse.api.deps import (
    NO_NUL,
    PATIENT_READ_ERRORS,
    SEARCH_ERRORS,
    BearerToken,
    Context,
    PatientKey,
    physician_session,
)
from warehouse.api.records import (
    CATEGORIES,
    DISCLAIMER_EN,
    DISCLAIMER_TH,
    PatientRecordData,
)

router = APIRouter(tags=["patients"])


class _Page(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: int = Field(default=1, ge=1, le=1000)
    page_size: int = Field(default=20, ge=1, le=50)


class SearchById(_Page):
    national_id: str = Field(pattern=r"^[0-9]{13}$", description="Exact match")


class SearchByName(_Page):
    first_name: str = Field(
        min_length=1, max_length=100, pattern=NO_NUL, description="Thai; typo tolerant"
    )
    last_name: str = Field(min_length=1, max_length=100, pattern=NO_NUL)


SearchRequest = SearchById | SearchByName


class PatientSummary(BaseModel):
    patient_key: str
    prename: str | None
    first_name: str | None
    last_name: str | None
    sex: str | None
    birth_date: date | None


class SearchHit(PatientSummary):
    score: float


class SearchResponse(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[SearchHit]


ConsentStatus = Literal["consented", "per_visit_required", "requested", "declined", "break_glass"]


class HospitalRecord(BaseModel):
    hospital_code: str
    hospital_name: str | None
    per_visit_required: bool
    consent_status: ConsentStatus
    withheld: bool = Field(description="True: per-visit consent needed; no rows are included")
    per_visit_request_endpoint: str | None
    data_as_of: datetime | None = Field(description="When the warehouse last received data")
    last_extract_date: date | None
    categories: dict[str, list[dict[str, Any]]]


class PatientRecord(BaseModel):
    patient: PatientSummary
    disclaimer_th: str
    disclaimer_en: str
    break_glass: bool
    categories: list[str] = Field(description="The category keys every hospital section has")
    hospitals: list[HospitalRecord]


class BreakGlassRequest(BaseModel):
    reason: str = Field(
        min_length=10, max_length=1000, pattern=NO_NUL, description="Why this is an emergency"
    )


def _record_response(record: PatientRecordData, break_glass: bool) -> PatientRecord:
    key = record.patient["patient_key"]
    return PatientRecord(
        patient=PatientSummary(**record.patient),
        disclaimer_th=DISCLAIMER_TH,
        disclaimer_en=DISCLAIMER_EN,
        break_glass=break_glass,
        categories=list(CATEGORIES),
        hospitals=[
            HospitalRecord(
                hospital_code=h.hospital_code,
                hospital_name=h.hospital_name,
                per_visit_required=h.per_visit_required,
                consent_status=h.consent_status,  # type: ignore[arg-type]
                withheld=h.withheld,
                per_visit_request_endpoint=(
                    f"/patients/{key}/per-visit-requests" if h.withheld else None
                ),
                data_as_of=h.data_as_of,
                last_extract_date=h.last_extract_date,
                categories=h.categories,
            )
            for h in record.hospitals
        ],
    )


@router.post(
    "/patients/search",
    response_model=SearchResponse,
    responses=SEARCH_ERRORS,
)
def search_patients(body: SearchRequest, token: BearerToken, context: Context) -> SearchResponse:
    with context.connect() as conn:
        physician = physician_session(conn, context, token)
        # Over the rate limit the request never gets here (warehouse.api.limits: 429).
        page = reads.search_patients(
            context,
            conn,
            physician,
            national_id=body.national_id if isinstance(body, SearchById) else None,
            names=None if isinstance(body, SearchById) else (body.first_name, body.last_name),
            page=body.page,
            page_size=body.page_size,
        )
    return SearchResponse(
        total=page.total,
        page=body.page,
        page_size=body.page_size,
        items=[SearchHit(**item) for item in page.items],
    )


def _read(context: Context, token: str, patient_key: str, *, reason: str | None) -> PatientRecord:
    with context.connect() as conn:
        physician = physician_session(conn, context, token)
        record = reads.patient_record(context, conn, physician, patient_key, reason=reason)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "patient_not_found")
    return _record_response(record, break_glass=reason is not None)


@router.get(
    "/patients/{patient_key}/record",
    response_model=PatientRecord,
    responses=PATIENT_READ_ERRORS,
)
def patient_record(patient_key: PatientKey, token: BearerToken, context: Context) -> PatientRecord:
    return _read(context, token, patient_key, reason=None)


@router.post(
    "/patients/{patient_key}/break-glass",
    response_model=PatientRecord,
    responses=PATIENT_READ_ERRORS,
)
def break_glass_record(
    patient_key: PatientKey, body: BreakGlassRequest, token: BearerToken, context: Context
) -> PatientRecord:
    """Emergency: per-visit-gated data without approval; flagged in the audit, patient notified.

    The reason is normalised (warehouse.api.visit_access.normalise_break_glass_reason) and must
    say something; a refusal is a 422 naming the field, never repeating it."""
    try:
        reason = visit_access.normalise_break_glass_reason(body.reason)
    except visit_access.ReasonRefused as refused:
        detail = [{"type": "value_error", "loc": ["body", "reason"], "msg": str(refused)}]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from None
    return _read(context, token, patient_key, reason=reason)
