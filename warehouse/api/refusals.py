"""Refused requests in the audit: one row per refusal of an authenticated actor on a
patient-touching route, an aggregate count for everything else.

The app's exception handlers (HTTPException, RequestValidationError, 413, 429) call
`record_refusal` with the status and a short reason code. An authenticated actor (a
physician, admin or ops session; a citizen-app token bound to a patient) refused on a route
that touches patient data gets an audit row with outcome `refused:<status>:<reason>`; any
other refusal, 401 first of all, only bumps `audit.refusal_count` for its day, route
template and status: nobody to attribute it to, and a row per anonymous request would let
anyone flood the audit. A route that audits its own refusal (a 404 for a hidden patient, a
search over the rate limit) is not audited twice: its append marks the request.

`record_refusal` never raises and logs no request values: a failure to audit must not turn
a refusal into a 500. It does blocking I/O, so call it from a sync handler (Starlette runs
those in the thread pool) or through `run_in_threadpool`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.routing import Match

from warehouse.api import ops_accounts
from warehouse.api.credentials import token_hash
from warehouse.api.sessions import KINDS, resolve
from warehouse.audit import trail
from warehouse.clock import storage_now
from warehouse.storage.connection import WarehouseConnection

log = logging.getLogger(__name__)

# Routes that read or change a patient's data, or search for patients: by path, or by tag
# for routes added later under these tags.
PATIENT_PATH_PREFIXES = ("/patients", "/fhir/Patient", "/citizen-app")
PATIENT_TAGS = frozenset({"patients", "fhir", "per-visit consent"})
# Routes that read the operations ledger (warehouse.api.routers.ops): a live ops session
# refused there is audited with its actor too; the session may come in the ops cookie.
LEDGER_TAG = "ops ledger"
_PATIENT_KEY = re.compile(r"^[0-9a-f]{32}$")
_REASON = re.compile(r"^[a-z0-9_.:-]{1,64}$")
UNMATCHED_ROUTE = "(no route)"


@dataclass(frozen=True)
class Actor:
    """Who made a refused request, in the audit's terms."""

    licence: str | None  # physician licence, or "admin:<name>" / "ops:<name>"
    hospital_code: str | None
    patient_key: str | None = None  # the citizen-app token's patient
    purpose: str = "treatment"


def is_patient_touching(route: APIRoute) -> bool:
    return (
        "{patient_key}" in route.path
        or route.path.startswith(PATIENT_PATH_PREFIXES)
        or bool(PATIENT_TAGS.intersection(str(t) for t in route.tags))
    )


def is_ledger_reading(route: APIRoute) -> bool:
    return LEDGER_TAG in (str(t) for t in route.tags)


def patient_touching_routes(app: Any) -> list[APIRoute]:
    """Enumerated from the app at run time, so routes added later are covered."""
    return [r for r in app.routes if isinstance(r, APIRoute) and is_patient_touching(r)]


def record_refusal(request: Request, status_code: int, reason: str) -> None:
    """Audit or count one refused request. Never raises."""
    try:
        _record(request, int(status_code), reason if _REASON.match(reason or "") else "other")
    except Exception:  # auditing a refusal must never fail the response
        log.warning("refusal_not_recorded status=%s", status_code)


def _record(request: Request, status_code: int, reason: str) -> None:
    context = request.app.state.context
    route, path_params = _route(request)
    mark = getattr(request.state, "audit_mark", None)
    if mark is not None and mark.written:
        return  # the endpoint audited this request itself
    label = f"{request.method} {route.path if route else UNMATCHED_ROUTE}"
    audited_route = route is not None and (is_patient_touching(route) or is_ledger_reading(route))
    token = _token(request, route)
    with context.connect() as conn:
        actor = None
        if status_code != 401 and token and audited_route:
            actor = _actor(conn, context, token)
        with conn.transaction():
            if actor is None:
                trail.count_refusal(conn, datetime.now(UTC).date(), label, status_code)
                return
            context.audit.append(conn, _entry(route, path_params, actor, status_code, reason))
        context.audit.export_committed()


def _entry(
    route: Any, path_params: dict[str, Any], actor: Actor, status_code: int, reason: str
) -> trail.AuditEntry:
    path_key = str(path_params.get("patient_key") or "")
    return trail.AuditEntry(
        action=route.name,
        outcome=f"refused:{status_code}:{reason}",
        physician_licence=actor.licence,
        physician_hospital_code=actor.hospital_code,
        # Only a key of the pseudonym's shape: anything else is request input, not logged.
        patient_key=path_key if _PATIENT_KEY.match(path_key) else actor.patient_key,
        purpose=actor.purpose,
    )


def _route(request: Request) -> tuple[APIRoute | None, dict[str, Any]]:
    scope = dict(request.scope)
    for route in request.app.routes:
        if not isinstance(route, APIRoute):
            continue
        match, child = route.matches(scope)
        if match == Match.FULL:
            return route, dict(child.get("path_params") or {})
    return None, {}


def _token(request: Request, route: APIRoute | None) -> str | None:
    """The bearer token; on a ledger route also the ops session cookie."""
    cookie = None
    if route is not None and is_ledger_reading(route):
        cookie = request.cookies.get(ops_accounts.SESSION_COOKIE)
    return ops_accounts.session_token(request.headers.get("authorization", ""), cookie)


def _actor(conn: WarehouseConnection, context: Any, token: str) -> Actor | None:
    """A live session (any kind), or a valid citizen-app token; None otherwise."""
    row = conn.execute(
        "SELECT kind, subject, hospital_code FROM api.session "
        "WHERE token_hash = ? AND ended_at IS NULL AND expires_at > ?",
        [token_hash(token), storage_now()],
    ).fetchone()
    if row is not None:
        kind, subject, hospital_code = str(row[0]), row[1], row[2]
        if kind == "physician":
            return _physician(conn, context, token)
        account = KINDS.get(kind)
        if account is None:
            return None
        return Actor(account.audit_subject(subject), hospital_code, purpose=kind)
    return _citizen(context, token)


def _physician(conn: WarehouseConnection, context: Any, token: str) -> Actor | None:
    session = resolve(conn, token, context.api.terms_version)
    if session is None:  # suspended or otherwise not live: unauthenticated
        return None
    return Actor(session.licence, session.hospital_code)


def _citizen(context: Any, token: str) -> Actor | None:
    try:
        from warehouse.api.citizen_identity import verifier_for
    except ImportError:  # no citizen credential in this build
        return None
    verifier = verifier_for(context.api)
    patient_key = verifier.patient_key(token) if verifier is not None else None
    if patient_key is None:
        return None
    return Actor(None, None, patient_key=patient_key, purpose="citizen_app")
