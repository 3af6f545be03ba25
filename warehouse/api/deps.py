"""Dependencies as Annotated aliases: the context, the bearer token, the identifiers in paths.

The database connection is NOT a yield dependency: a sync generator dependency may exit on
another thread than it entered, and the DuckDB file lock is per thread. Endpoints open it
with `with ctx.connect() as conn:` and resolve the session there (see `physician_session`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from warehouse.api.context import ApiContext
from warehouse.api.sessions import PhysicianSession, resolve
from warehouse.audit.trail import track_request
from warehouse.storage.connection import WarehouseConnection

_bearer = HTTPBearer(auto_error=False, description="Opaque session token from /auth/login")


async def get_context(request: Request) -> ApiContext:
    """Async on purpose: it runs in the request's own task, so the audit mark it starts is
    seen by a sync endpoint's worker thread (a copy of this context) and, through
    request.state, by the refusal handlers (warehouse/api/refusals.py)."""
    context: ApiContext = request.app.state.context
    request.state.audit_mark = track_request()
    return context


def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "not_authenticated", {"WWW-Authenticate": "Bearer"}
        )
    return credentials.credentials


Context = Annotated[ApiContext, Depends(get_context)]
BearerToken = Annotated[str, Depends(bearer_token)]
# The pseudonymous key (not an identifier of the person): safe in a URL.
PatientKey = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="Pseudonymous patient key")]

# Free text from a client: anything but NUL, which PostgreSQL text cannot hold (a request
# carrying one is a 422, never a 500).
NO_NUL = r"^[^\x00]*$"

# Dates and instants from a client, bounded so that no arithmetic on them can overflow
# (0001-01-01 or 9999-12-31 with an offset once gave a 500) and nothing absurd is stored.
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
EARLIEST_MOMENT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_MOMENT = datetime(2200, 1, 1, tzinfo=UTC)


def _birth_date_in_range(value: date) -> date:
    from warehouse.clock import bangkok_today

    if not EARLIEST_BIRTH_DATE <= value <= bangkok_today() + timedelta(days=1):
        raise PydanticCustomError(
            "date_out_of_range", "a birth date must be from 1900-01-01 to tomorrow"
        )
    return value


def _moment_in_range(value: datetime) -> datetime:
    # Compared on the naive wall time first: converting 0001-01-01T00:00+14:00 to UTC is
    # exactly the overflow this prevents.
    wall = value.replace(tzinfo=None)
    if not EARLIEST_MOMENT.replace(tzinfo=None) < wall < LATEST_MOMENT.replace(tzinfo=None):
        raise PydanticCustomError(
            "datetime_out_of_range", "an instant must be between 1900 and 2200"
        )
    return value


BirthDate = Annotated[date, AfterValidator(_birth_date_in_range)]
Moment = Annotated[datetime, AfterValidator(_moment_in_range)]

Responses = dict[int | str, dict[str, Any]]
UNAUTHORIZED: Responses = {
    401: {"description": "No live session (missing, expired, ended or suspended)"}
}
FORBIDDEN: Responses = {403: {"description": "Terms not accepted or no current hospital chosen"}}
NOT_FOUND: Responses = {404: {"description": "No patient whose data may be shown has this key"}}
# A read of one patient's data, and a patient search (the search routes are rate limited).
PATIENT_READ_ERRORS: Responses = {**UNAUTHORIZED, **FORBIDDEN, **NOT_FOUND}
SEARCH_ERRORS: Responses = {**UNAUTHORIZED, **FORBIDDEN, 429: {"description": "search rate limit"}}


def physician_session(
    conn: WarehouseConnection, context: ApiContext, token: str, *, ready: bool = True
) -> PhysicianSession:
    """The live session; with ready=True also terms accepted and a current hospital."""
    session = resolve(conn, token, context.api.terms_version)
    if session is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "not_authenticated", {"WWW-Authenticate": "Bearer"}
        )
    if ready and not session.terms_accepted:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "terms_not_accepted")
    if ready and session.hospital_code is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "hospital_not_chosen")
    return session
