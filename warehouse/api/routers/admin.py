"""Hospital-scoped admin accounts: their hospital's memberships only (add, suspend,
reactivate, unlock). Another hospital's physician is, to an admin, a 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status
from pydantic import BaseModel, Field

from warehouse.api import physicians, sessions, throttle
from warehouse.api.credentials import PINCODE_POLICY, pincode_is_acceptable
from warehouse.api.deps import NO_NUL, UNAUTHORIZED, BearerToken, Context, Responses
from warehouse.api.routers.auth import LOCKED, audit_login, client_address, refuse_login
from warehouse.storage.connection import WarehouseConnection

router = APIRouter(prefix="/admin", tags=["admin"])
Licence = Annotated[str, Path(pattern=physicians.LICENCE_PATTERN.pattern)]
NOT_HERE: Responses = {
    **UNAUTHORIZED,
    404: {"description": "not_at_your_hospital: no membership of the admin's hospital"},
}


class AdminLogin(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    password: str = Field(min_length=1, max_length=128, pattern=NO_NUL)


class AdminToken(BaseModel):
    token: str
    hospital_code: str


class NewPhysician(BaseModel):
    licence: str = Field(pattern=physicians.LICENCE_PATTERN.pattern)
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=NO_NUL,
        description="Needed to register a new physician; ignored for one already registered",
    )
    pincode: str | None = Field(
        default=None,
        pattern=r"^[0-9]{6}$",
        description=f"Needed to register a new physician: {PINCODE_POLICY}. Ignored for a "
        "physician already registered (their credentials are not the hospital's to change)",
    )


class PhysicianOut(BaseModel):
    """The physician's membership of the admin's hospital (never their other hospitals)."""

    licence: str
    status: str
    hospital_code: str


def _out(membership: physicians.Membership) -> PhysicianOut:
    return PhysicianOut(
        licence=membership.licence, status=membership.status, hospital_code=membership.hospital_code
    )


def _admin_hospital(conn: WarehouseConnection, token: str) -> str:
    session = sessions.ADMIN.live_session(conn, token)
    if session is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "not_authenticated")
    return str(session.hospital_code)


def _membership_here(
    conn: WarehouseConnection, licence: str, hospital: str
) -> physicians.Membership:
    found = physicians.membership(conn, licence, hospital)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not_at_your_hospital")
    return found


@router.post(
    "/login",
    response_model=AdminToken,
    responses={401: {"description": "invalid_credentials"}, **LOCKED},
)
def admin_login(body: AdminLogin, request: Request, context: Context) -> AdminToken:
    with context.connect() as conn:
        try:
            token, hospital = sessions.admin_login(
                conn, context.api, body.username, body.password, client_address(request)
            )
        except sessions.LoginRefused as refused:
            audit_login(context, conn, sessions.ADMIN, body.username, refused)
            raise refuse_login(refused) from None
        audit_login(context, conn, sessions.ADMIN, body.username)
        return AdminToken(token=token, hospital_code=hospital)


@router.get("/physicians", response_model=list[PhysicianOut], responses=UNAUTHORIZED)
def list_physicians(token: BearerToken, context: Context) -> list[PhysicianOut]:
    """The memberships of the admin's hospital."""
    with context.connect() as conn:
        hospital = _admin_hospital(conn, token)
        return [_out(m) for m in physicians.memberships_of_hospital(conn, hospital)]


@router.post(
    "/physicians",
    response_model=PhysicianOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        **UNAUTHORIZED,
        409: {
            "description": "registration_incomplete (a new physician needs name and pincode) "
            "or weak_pincode (the pincode policy)"
        },
    },
)
def add_physician(body: NewPhysician, token: BearerToken, context: Context) -> PhysicianOut:
    """Registers a new physician at the admin's hospital; for one registered already (at
    this or another hospital) only a membership of the admin's hospital is created: their
    name, pincode and other memberships stay as they are. An existing membership is
    returned unchanged (a suspended one stays suspended)."""
    with context.connect() as conn:
        hospital = _admin_hospital(conn, token)
        with conn.transaction():
            if physicians.is_registered(conn, body.licence):
                return _out(physicians.link_hospital(conn, body.licence, hospital))
            if body.name is None or body.pincode is None:
                raise HTTPException(status.HTTP_409_CONFLICT, "registration_incomplete")
            if not pincode_is_acceptable(body.pincode):
                raise HTTPException(status.HTTP_409_CONFLICT, "weak_pincode")
            physicians.add_physician(conn, body.licence, body.name, body.pincode, [hospital])
            return _out(physicians.Membership(body.licence, hospital, "active"))


@router.get("/physicians/{licence}", response_model=PhysicianOut, responses=NOT_HERE)
def get_physician(licence: Licence, token: BearerToken, context: Context) -> PhysicianOut:
    with context.connect() as conn:
        return _out(_membership_here(conn, licence, _admin_hospital(conn, token)))


def _set_status(context: Context, token: str, licence: str, new_status: str) -> PhysicianOut:
    with context.connect() as conn:
        hospital = _admin_hospital(conn, token)
        _membership_here(conn, licence, hospital)
        with conn.transaction():
            changed = physicians.set_membership_status(conn, licence, hospital, new_status)
        return _out(changed)


@router.post("/physicians/{licence}/suspend", response_model=PhysicianOut, responses=NOT_HERE)
def suspend(licence: Licence, token: BearerToken, context: Context) -> PhysicianOut:
    """The physician can no longer act at the admin's hospital; their sessions there end at
    once. Their other hospitals are not the admin's to touch."""
    return _set_status(context, token, licence, "suspended")


@router.post("/physicians/{licence}/reactivate", response_model=PhysicianOut, responses=NOT_HERE)
def reactivate(licence: Licence, token: BearerToken, context: Context) -> PhysicianOut:
    return _set_status(context, token, licence, "active")


@router.post("/physicians/{licence}/unlock", response_model=PhysicianOut, responses=NOT_HERE)
def unlock(licence: Licence, token: BearerToken, context: Context) -> PhysicianOut:
    """Lift the login locks on this physician's licence, from every address."""
    with context.connect() as conn:
        found = _membership_here(conn, licence, _admin_hospital(conn, token))
        throttle.unlock_subject(conn, "physician", licence)
        return _out(found)
