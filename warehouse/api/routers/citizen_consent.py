"""The citizen app's consent endpoints (issue 4 item 6): register, sources, withdraw, rejoin,
sensitive choice, state and notifications.

Every call acts for ONE patient: the bearer token is the identity provider's short-lived
token for the person holding the phone, whose subject is their pseudonymous key
(warehouse/api/citizen_identity.py). A path naming any other key answers exactly as a key that
does not exist (404 not_registered); the app's own credential or a physician's token is 401.
National IDs and birth dates travel in the body of the registration only, and the national ID
there must be the token subject's own; afterwards the app names the patient by the
pseudonymous key the registration returned. Events are recorded as `citizen`. The rules are
warehouse.consent's: a refusal is a 4xx whose body is {reason_code, message}
(400 for what the request itself gets wrong by the rules, 404 for an unknown patient, 409 for
what the patient's current state does not allow; 422 stays FastAPI's schema validation error).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from warehouse import consent
from warehouse.api import citizen_actions
from warehouse.api.citizen_actions import NOT_REGISTERED, NOT_REGISTERED_MESSAGE
from warehouse.api.citizen_identity import RECORDED_BY_CITIZEN, Citizen, CurrentCitizen
from warehouse.api.context import ApiContext
from warehouse.api.deps import UNAUTHORIZED, BirthDate, Context, Moment, PatientKey
from warehouse.consent import ConsentRefused, PatientState, SenderChoice
from warehouse.pseudonym import patient_key as make_patient_key
from warehouse.storage.connection import WarehouseConnection

router = APIRouter(prefix="/citizen-app/consent", tags=["citizen app: consent"])

# Refusals about the request itself; the others are about the patient's current state.
_UNPROCESSABLE = {
    "invalid_national_id",
    "not_thai_card",
    "under_age",
    "not_self",
    "verification_missing",
    "empty_choice",
    "unknown_network",
    "not_participating",
}
Code = Annotated[str, Field(pattern=r"^[0-9A-Za-z]{1,16}$")]


class Refusal(BaseModel):
    reason_code: str
    message: str


REFUSED: dict[int | str, dict[str, Any]] = {
    400: {
        "model": Refusal,
        "description": "the request breaks a rule (invalid ID, under 18, unknown hospital...)",
    },
    404: {
        "model": Refusal,
        "description": "not_registered: no consent for this key, or the key is not the caller's",
    },
    409: {"model": Refusal, "description": "refused by the consent rules for the current state"},
    **UNAUTHORIZED,
    503: {"description": "no identity provider key is configured"},
}


class Sender(BaseModel):
    scope: Literal["ALL", "LIST"]
    networks: list[Code] = Field(default_factory=list, max_length=50)
    hospitals: list[Code] = Field(default_factory=list, max_length=200)

    def choice(self) -> SenderChoice:
        if self.scope == "ALL":
            return SenderChoice.everyone()
        return SenderChoice.of(set(self.networks), set(self.hospitals))


class Verification(BaseModel):
    method: str = Field(min_length=1, max_length=40, pattern=r"^[^\x00]*$")
    verified_at: Moment = Field(description="ISO 8601 with offset")
    national_id: str = Field(pattern=r"^[0-9]{13}$", description="The verified identity")


class RegistrationBody(BaseModel):
    national_id: str = Field(pattern=r"^[0-9]{13}$")
    birth_date: BirthDate
    verification: Verification
    sender: Sender
    sensitive: bool = False


class RejoinBody(BaseModel):
    sender: Sender | None = Field(None, description="Omitted: the previous choice")
    sensitive: bool = False


class SensitiveBody(BaseModel):
    allowed: bool


class ConsentState(BaseModel):
    patient_key: str
    status: Literal["active", "withdrawn"]
    sender: Sender
    sensitive_allowed: bool
    consenting_since: datetime
    list_set_on: date


class Notification(BaseModel):
    notification_id: int
    kind: str
    payload: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


def _state(state: PatientState) -> ConsentState:
    return ConsentState(
        patient_key=state.patient_key,
        status=state.status,
        sender=Sender(
            scope=state.choice.scope,
            networks=sorted(state.choice.networks),
            hospitals=sorted(state.choice.hospitals),
        ),
        sensitive_allowed=state.sensitive_allowed,
        consenting_since=state.consenting_since,
        list_set_on=state.list_set_on,
    )


def _refused(refusal: ConsentRefused) -> JSONResponse:
    code = refusal.reason_code
    message = NOT_REGISTERED_MESSAGE if code == NOT_REGISTERED else refusal.message
    status_code = (
        status.HTTP_404_NOT_FOUND
        if code == "not_registered"
        else status.HTTP_400_BAD_REQUEST
        if code in _UNPROCESSABLE
        else status.HTTP_409_CONFLICT
    )
    return JSONResponse({"reason_code": code, "message": message}, status_code)


def _act(
    context: ApiContext,
    citizen: Citizen,
    audit_action: str,
    action: Callable[[WarehouseConnection], Any] | None,
) -> Any:
    """The consent call for the citizen, audited (warehouse.api.citizen_actions); a refusal
    becomes its 4xx response."""
    result = citizen_actions.act(context, citizen.patient_key, audit_action, action)
    return _refused(result) if isinstance(result, ConsentRefused) else result


def _not_self(_conn: Any) -> Any:
    raise ConsentRefused("not_self", "Only the verified person may register, for themselves.")


def _as_state(result: Any) -> Any:
    return _state(result) if isinstance(result, PatientState) else result


def _for_own_key(
    context: ApiContext,
    citizen: Citizen,
    patient_key: str,
    audit_action: str,
    action: Callable[[Any], Any],
) -> Any:
    """`action` on the caller's own key only; any other key is "not registered", unchecked."""
    own = patient_key == citizen.patient_key
    return _as_state(_act(context, citizen, audit_action, action if own else None))


@router.post(
    "/registrations",
    response_model=ConsentState,
    status_code=status.HTTP_201_CREATED,
    responses=REFUSED,
)
def register(body: RegistrationBody, citizen: CurrentCitizen, context: Context) -> Any:
    """Register the verified person: the national ID's key must be the token's subject."""
    secret = context.settings.pseudonym_key.get_secret_value().encode("utf-8")
    if make_patient_key(body.national_id, secret) != citizen.patient_key:
        return _act(context, citizen, "citizen_register", _not_self)
    registration = consent.Registration(
        national_id=body.national_id,
        birth_date=body.birth_date,
        verification_method=body.verification.method,
        verified_at=body.verification.verified_at,
        verified_national_id=body.verification.national_id,
        choice=body.sender.choice(),
        sensitive_allowed=body.sensitive,
    )
    return _as_state(
        _act(
            context,
            citizen,
            "citizen_register",
            lambda conn: consent.register(
                conn, context.registry, registration, secret, recorded_by=RECORDED_BY_CITIZEN
            ),
        )
    )


@router.get("/{patient_key}", response_model=ConsentState, responses=REFUSED)
def show(patient_key: PatientKey, citizen: CurrentCitizen, context: Context) -> Any:
    """The patient's consent, derived from the event log."""

    def action(conn: Any) -> PatientState:
        state = consent.current_state(conn, patient_key)
        if state is None:
            raise ConsentRefused(NOT_REGISTERED, NOT_REGISTERED_MESSAGE)
        return state

    return _for_own_key(context, citizen, patient_key, "citizen_consent", action)


@router.put("/{patient_key}/sources", response_model=ConsentState, responses=REFUSED)
def change_sources(
    patient_key: PatientKey, body: Sender, citizen: CurrentCitizen, context: Context
) -> Any:
    """Change the sender choice (at most once per Bangkok calendar day)."""
    return _for_own_key(
        context,
        citizen,
        patient_key,
        "citizen_sources",
        lambda conn: consent.change_sources(
            conn, context.registry, patient_key, body.choice(), recorded_by=RECORDED_BY_CITIZEN
        ),
    )


@router.post("/{patient_key}/withdrawal", response_model=ConsentState, responses=REFUSED)
def withdraw(patient_key: PatientKey, citizen: CurrentCitizen, context: Context) -> Any:
    """Withdraw: every row is hidden at once and purged by the next sync."""
    return _for_own_key(
        context,
        citizen,
        patient_key,
        "citizen_withdraw",
        lambda conn: consent.withdraw(conn, patient_key, recorded_by=RECORDED_BY_CITIZEN),
    )


@router.post("/{patient_key}/rejoin", response_model=ConsentState, responses=REFUSED)
def rejoin(
    patient_key: PatientKey, body: RejoinBody, citizen: CurrentCitizen, context: Context
) -> Any:
    """Join again, from the day after withdrawing (Bangkok)."""
    choice = body.sender.choice() if body.sender is not None else None
    return _for_own_key(
        context,
        citizen,
        patient_key,
        "citizen_rejoin",
        lambda conn: consent.rejoin(
            conn,
            context.registry,
            patient_key,
            choice,
            sensitive_allowed=body.sensitive,
            recorded_by=RECORDED_BY_CITIZEN,
        ),
    )


@router.put("/{patient_key}/sensitive", response_model=ConsentState, responses=REFUSED)
def sensitive(
    patient_key: PatientKey, body: SensitiveBody, citizen: CurrentCitizen, context: Context
) -> Any:
    """Share sensitive data or not (off by default)."""
    return _for_own_key(
        context,
        citizen,
        patient_key,
        "citizen_sensitive",
        lambda conn: consent.set_sensitive(
            conn, patient_key, body.allowed, recorded_by=RECORDED_BY_CITIZEN
        ),
    )


@router.get("/{patient_key}/notifications", response_model=list[Notification], responses=REFUSED)
def notifications(patient_key: PatientKey, citizen: CurrentCitizen, context: Context) -> Any:
    """The patient's notifications, every kind: a hospital joined that their choice does not
    cover, a physician's per-visit request, a break-glass opening of their record."""
    return _for_own_key(
        context,
        citizen,
        patient_key,
        "citizen_notifications",
        lambda conn: consent.notifications(conn, patient_key),
    )
