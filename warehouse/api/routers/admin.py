"""Hospital-scoped admin accounts: add physicians to their hospital, suspend, reactivate."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, Field

from warehouse.api import physicians
from warehouse.api.clock import utc_now
from warehouse.api.credentials import check_secret, new_token, token_hash
from warehouse.api.deps import NO_NUL, UNAUTHORIZED, BearerToken, Context
from warehouse.db import WarehouseConnection

router = APIRouter(prefix="/admin", tags=["admin"])
Licence = Annotated[str, Path(pattern=physicians.LICENCE_PATTERN.pattern)]


class AdminLogin(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    password: str = Field(min_length=1, max_length=128, pattern=NO_NUL)


class AdminToken(BaseModel):
    token: str
    hospital_code: str


class NewPhysician(BaseModel):
    licence: str = Field(pattern=physicians.LICENCE_PATTERN.pattern)
    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    pincode: str = Field(min_length=6, max_length=64, pattern=NO_NUL)


class PhysicianOut(BaseModel):
    licence: str
    status: str
    hospital_code: str


def _admin_hospital(conn: WarehouseConnection, token: str) -> str:
    row = conn.execute(
        "SELECT hospital_code FROM api.session WHERE token_hash = ? AND kind = 'admin' "
        "AND ended_at IS NULL AND expires_at > ?",
        [token_hash(token), utc_now()],
    ).fetchone()
    if row is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not_authenticated")
    return str(row[0])


@router.post("/login", response_model=AdminToken, responses=UNAUTHORIZED)
def admin_login(body: AdminLogin, context: Context) -> AdminToken:
    with context.connect() as conn:
        row = conn.execute(
            "SELECT password_hash, hospital_code FROM api.admin_account WHERE username = ?",
            [body.username],
        ).fetchone()
        if not check_secret(row[0] if row else None, body.password) or row is None:
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid_credentials")
        token = new_token()
        now = utc_now()
        conn.execute(
            "INSERT INTO api.session (token_hash, kind, subject, hospital_code, created_at, "
            "expires_at) VALUES (?, 'admin', ?, ?, ?, ?)",
            [
                token_hash(token),
                body.username,
                row[1],
                now,
                now + timedelta(minutes=context.api.token_ttl_minutes),
            ],
        )
        return AdminToken(token=token, hospital_code=row[1])


@router.post(
    "/physicians",
    response_model=PhysicianOut,
    status_code=status.HTTP_201_CREATED,
    responses=UNAUTHORIZED,
)
def add_physician(body: NewPhysician, token: BearerToken, context: Context) -> PhysicianOut:
    """Registers the physician at the admin's hospital (or adds the hospital if known)."""
    with context.connect() as conn:
        hospital = _admin_hospital(conn, token)
        with conn.transaction():
            known = conn.execute(
                "SELECT status FROM api.physician WHERE licence = ?", [body.licence]
            ).fetchone()
            if known:
                physicians.link_hospital(conn, body.licence, hospital)
            else:
                physicians.add_physician(conn, body.licence, body.name, body.pincode, [hospital])
        return PhysicianOut(
            licence=body.licence, status=known[0] if known else "active", hospital_code=hospital
        )


def _set_status(context: Context, token: str, licence: str, new_status: str) -> PhysicianOut:
    with context.connect() as conn:
        hospital = _admin_hospital(conn, token)
        if not physicians.works_at(conn, licence, hospital):
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not_at_your_hospital")
        with conn.transaction():
            physicians.set_status(conn, licence, new_status)
        return PhysicianOut(licence=licence, status=new_status, hospital_code=hospital)


@router.post(
    "/physicians/{licence}/suspend",
    response_model=PhysicianOut,
    responses={**UNAUTHORIZED, 404: {"description": "not at your hospital"}},
)
def suspend(licence: Licence, token: BearerToken, context: Context) -> PhysicianOut:
    """Suspension ends the physician's live sessions at once."""
    return _set_status(context, token, licence, "suspended")


@router.post(
    "/physicians/{licence}/reactivate",
    response_model=PhysicianOut,
    responses={**UNAUTHORIZED, 404: {"description": "not at your hospital"}},
)
def reactivate(licence: Licence, token: BearerToken, context: Context) -> PhysicianOut:
    return _set_status(context, token, licence, "active")
