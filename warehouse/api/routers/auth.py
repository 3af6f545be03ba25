"""Physician login, first-login terms, current hospital, logout and the satisfaction rating."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Request, status
from pydantic import BaseModel, Field

from warehouse.api import sessions
from warehouse.api.audited import audited
from warehouse.api.context import ApiContext
from warehouse.api.deps import (
    NO_NUL,
    UNAUTHORIZED,
    BearerToken,
    Context,
    Responses,
    physician_session,
)
from warehouse.storage.connection import WarehouseConnection

router = APIRouter(tags=["auth"])

TERMS_TH = (
    "ข้าพเจ้าจะเข้าถึงข้อมูลสุขภาพของผู้ป่วยที่อยู่ในความดูแลของข้าพเจ้าเท่านั้น เพื่อการรักษา "
    "และรับทราบว่าการเข้าถึงทุกครั้งถูกบันทึกไว้"
)
TERMS_EN = (
    "I will access the health data only of patients in my care, for their treatment, and I "
    "understand that every access is recorded."
)


class LoginRequest(BaseModel):
    licence: str = Field(
        min_length=1, max_length=20, pattern=NO_NUL, description="Medical Council licence (เลข ว.)"
    )
    pincode: str = Field(min_length=1, max_length=64, pattern=NO_NUL)


class Hospital(BaseModel):
    hospital_code: str = Field(max_length=20, pattern=NO_NUL)


class SessionInfo(BaseModel):
    licence: str
    name: str
    hospitals: list[str]
    current_hospital: str | None
    terms_accepted: bool
    terms_version: str
    terms_th: str
    terms_en: str
    expires_at: datetime


class LoginResponse(SessionInfo):
    token: str


class TermsAcceptance(BaseModel):
    accept: bool = Field(description="Must be true")
    terms_version: str = Field(max_length=100, pattern=NO_NUL)


class LogoutResponse(BaseModel):
    rating_ticket: str = Field(description="Single use: POST /ratings within this browser session")


class RatingRequest(BaseModel):
    rating_ticket: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000, pattern=NO_NUL)


def _info(context: Context, session: sessions.PhysicianSession) -> SessionInfo:
    return SessionInfo(
        licence=session.licence,
        name=session.name,
        hospitals=session.hospitals,
        current_hospital=session.hospital_code,
        terms_accepted=session.terms_accepted,
        terms_version=context.api.terms_version,
        terms_th=TERMS_TH,
        terms_en=TERMS_EN,
        expires_at=session.expires_at.replace(tzinfo=UTC),
    )


LOCKED: Responses = {
    429: {
        "description": "locked: too many attempts from this address (for this licence or "
        "in all); try again after Retry-After seconds"
    }
}


def client_address(request: Request) -> str:
    """The caller's address as uvicorn reports it (behind a proxy: run uvicorn with
    --proxy-headers and --forwarded-allow-ips naming the proxy, so this is the client's)."""
    return request.client.host if request.client else "unknown"


def refuse_login(refused: sessions.LoginRefused) -> HTTPException:
    if refused.code == "locked":
        return HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "locked",
            {"Retry-After": str(refused.retry_after or 1)},
        )
    return HTTPException(sessions.LOGIN_REFUSAL_STATUS.get(refused.code, 401), refused.code)


def audit_login(
    context: ApiContext,
    conn: WarehouseConnection,
    kind: sessions.AccountKind,
    subject: str,
    refused: sessions.LoginRefused | None = None,
) -> None:
    """One audit row per login, refused or not (the login throttle bounds how many), naming
    the account only when it exists; the secret is never anywhere."""
    actor = sessions.login_actor(conn, kind, subject)
    with audited(context, conn, actor) as audit:
        audit.record("login", sessions.login_outcome(refused), purpose=kind.name)


@router.post(
    "/auth/login",
    response_model=LoginResponse,
    responses={
        401: {"description": "invalid_credentials"},
        403: {"description": "suspended (nationally or at every hospital)"},
        **LOCKED,
    },
)
def login(body: LoginRequest, request: Request, context: Context) -> LoginResponse:
    with context.connect() as conn:
        # No enclosing transaction: the throttle's slot must commit before the pincode check.
        try:
            token = sessions.login(
                conn,
                context.verifier,
                context.api,
                body.licence,
                body.pincode,
                client_address(request),
            )
        except sessions.LoginRefused as refused:
            audit_login(context, conn, sessions.PHYSICIAN, body.licence, refused)
            raise refuse_login(refused) from None
        audit_login(context, conn, sessions.PHYSICIAN, body.licence)
        session = physician_session(conn, context, token, ready=False)
        return LoginResponse(token=token, **_info(context, session).model_dump())


@router.get("/auth/session", response_model=SessionInfo, responses=UNAUTHORIZED)
def current_session(token: BearerToken, context: Context) -> SessionInfo:
    with context.connect() as conn:
        return _info(context, physician_session(conn, context, token, ready=False))


@router.post(
    "/auth/terms",
    response_model=SessionInfo,
    responses={**UNAUTHORIZED, 409: {"description": "terms_version_mismatch / not accepted"}},
)
def accept_terms(body: TermsAcceptance, token: BearerToken, context: Context) -> SessionInfo:
    with context.connect() as conn:
        session = physician_session(conn, context, token, ready=False)
        if not body.accept or body.terms_version != context.api.terms_version:
            raise HTTPException(status.HTTP_409_CONFLICT, "terms_not_accepted")
        sessions.accept_terms(conn, session.licence, context.api.terms_version)
        return _info(context, physician_session(conn, context, token, ready=False))


@router.post(
    "/auth/hospital",
    response_model=SessionInfo,
    responses={**UNAUTHORIZED, 409: {"description": "not_your_hospital"}},
)
def choose_hospital(body: Hospital, token: BearerToken, context: Context) -> SessionInfo:
    with context.connect() as conn:
        session = physician_session(conn, context, token, ready=False)
        if not sessions.choose_hospital(conn, session, body.hospital_code):
            raise HTTPException(status.HTTP_409_CONFLICT, "not_your_hospital")
        return _info(context, physician_session(conn, context, token, ready=False))


@router.post("/auth/logout", response_model=LogoutResponse, responses=UNAUTHORIZED)
def logout(token: BearerToken, context: Context) -> LogoutResponse:
    with context.connect() as conn:
        session = physician_session(conn, context, token, ready=False)
        return LogoutResponse(rating_ticket=sessions.logout(conn, session))


@router.post(
    "/ratings",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "unknown or used ticket"}},
)
def rate(body: Annotated[RatingRequest, Body()], context: Context) -> None:
    with context.connect() as conn:
        if not sessions.rate(conn, body.rating_ticket, body.score, body.comment):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "unknown_ticket")
