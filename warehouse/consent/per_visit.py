"""Per-visit consent: a physician's request, the patient's answer, the day-long grant.

A request names the physician (licence), the hospital they work at now, the patient and one
or more source hospitals that require per-visit consent. It stays pending until the patient
approves or declines it in the citizen app, or until the end of its day (Asia/Bangkok), when
it expires. An approval writes one consent.per_visit_grant row per source hospital, valid
until the end of that day; the grant table keeps naive Bangkok wall-clock time because the
per-visit gate (dbt macro `per_visit_gate`) compares it with `local_now()`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from warehouse.clock import (
    as_utc,
    bangkok_day,
    bangkok_local,
    end_of_bangkok_day,
    to_storage,
    utc_or_now,
)
from warehouse.consent import rules, storage
from warehouse.consent.errors import ConsentRefused
from warehouse.consent.model import Event
from warehouse.consent.notifications import notify
from warehouse.consent.service import current_state
from warehouse.hospital_registry import Registry
from warehouse.storage.protocol import WarehouseConnection


@dataclass(frozen=True)
class PerVisitRequest:
    request_id: str
    physician_licence: str
    physician_hospital_code: str
    patient_key: str
    source_hospitals: tuple[str, ...]
    status: str
    requested_at: datetime
    decided_at: datetime | None
    expires_at: datetime


def request_access(
    conn: WarehouseConnection,
    registry: Registry,
    physician_licence: str,
    physician_hospital_code: str,
    patient_key: str,
    source_hospitals: list[str],
    *,
    now: datetime | None = None,
    recorded_by: str = "api",
) -> PerVisitRequest:
    moment = utc_or_now(now)
    participation = rules.Participation.from_registry(registry, bangkok_day(moment))
    sources = tuple(sorted(set(source_hospitals)))
    if physician_hospital_code not in participation.hospitals:
        raise ConsentRefused(
            "not_participating", "The physician's hospital does not participate in Health Link."
        )
    if not sources:
        raise ConsentRefused("not_per_visit", "Name at least one source hospital.")
    outside = [code for code in sources if code not in participation.per_visit]
    if outside:
        raise ConsentRefused(
            "not_per_visit",
            f"Hospital(s) {', '.join(outside)} do not require per-visit consent.",
        )
    with conn.transaction():
        state = current_state(conn, patient_key)
        if state is None:
            raise ConsentRefused("not_registered", "This patient has not registered.")
        if not state.active:
            raise ConsentRefused("withdrawn", "This patient's consent is withdrawn.")
        uncovered = [c for c in sources if not state.choice.covers(c, participation.hospitals[c])]
        if uncovered:
            raise ConsentRefused(
                "not_sender",
                f"Hospital(s) {', '.join(uncovered)} are not among the patient's senders.",
            )
        request = PerVisitRequest(
            request_id=uuid.uuid4().hex,
            physician_licence=physician_licence,
            physician_hospital_code=physician_hospital_code,
            patient_key=patient_key,
            source_hospitals=sources,
            status="pending",
            requested_at=moment,
            decided_at=None,
            expires_at=end_of_bangkok_day(moment),
        )
        conn.execute(
            "INSERT INTO consent.per_visit_request (request_id, physician_licence,"
            " physician_hospital_code, patient_key, source_hospitals, status, requested_at,"
            " decided_at, expires_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, NULL, ?)",
            [
                request.request_id,
                physician_licence,
                physician_hospital_code,
                patient_key,
                json.dumps(list(sources)),
                to_storage(moment),
                to_storage(request.expires_at),
            ],
        )
        event_id = storage.append_event(
            conn, _event("per_visit_requested", request, moment, recorded_by)
        )
        # The patient answers in the citizen app, from its notification list.
        notify(
            conn,
            patient_key,
            "per_visit_request",
            {
                "request_id": request.request_id,
                "physician_licence": physician_licence,
                "physician_hospital_code": physician_hospital_code,
                "source_hospitals": list(sources),
                "expires_at": request.expires_at.isoformat(),
            },
            event_id=event_id,
            now=moment,
        )
    return request


def _event(kind: str, request: PerVisitRequest, moment: datetime, recorded_by: str) -> Event:
    return Event(
        kind,
        request.patient_key,
        moment,
        payload={
            "request_id": request.request_id,
            "physician_licence": request.physician_licence,
            "physician_hospital_code": request.physician_hospital_code,
            "source_hospitals": list(request.source_hospitals),
        },
        recorded_by=recorded_by,
    )


_REQUEST_COLUMNS = (
    "request_id, physician_licence, physician_hospital_code, patient_key, source_hospitals,"
    " status, requested_at, decided_at, expires_at"
)


def _request(row: tuple[Any, ...]) -> PerVisitRequest:
    return PerVisitRequest(
        request_id=row[0],
        physician_licence=row[1],
        physician_hospital_code=row[2],
        patient_key=row[3],
        source_hospitals=tuple(json.loads(row[4])),
        status=row[5],
        requested_at=as_utc(row[6]),
        decided_at=as_utc(row[7]) if row[7] is not None else None,
        expires_at=as_utc(row[8]),
    )


def requests_of(conn: WarehouseConnection, patient_key: str) -> list[PerVisitRequest]:
    rows = conn.execute(
        f"SELECT {_REQUEST_COLUMNS} FROM consent.per_visit_request WHERE patient_key = ?"
        " ORDER BY requested_at, request_id",
        [patient_key],
    ).fetchall()
    return [_request(row) for row in rows]


def _close(
    conn: WarehouseConnection, request: PerVisitRequest, status: str, moment: datetime, by: str
) -> None:
    conn.execute(
        "UPDATE consent.per_visit_request SET status = ?, decided_at = ? WHERE request_id = ?",
        [status, to_storage(moment), request.request_id],
    )
    storage.append_event(conn, _event(f"per_visit_{status}", request, moment, by))


def _decide(
    conn: WarehouseConnection,
    patient_key: str,
    request_id: str,
    approve: bool,
    moment: datetime,
    by: str,
) -> PerVisitRequest:
    expired = False
    with conn.transaction():
        row = conn.execute(
            f"SELECT {_REQUEST_COLUMNS} FROM consent.per_visit_request"
            " WHERE request_id = ? AND patient_key = ?",
            [request_id, patient_key],
        ).fetchone()
        if row is None:
            raise ConsentRefused("unknown_request", "There is no such request for this patient.")
        request = _request(row)
        if request.status != "pending":
            raise ConsentRefused("request_closed", f"The request is already {request.status}.")
        if moment >= request.expires_at:
            _close(conn, request, "expired", moment, "system")
            expired = True
        elif approve:
            _close(conn, request, "approved", moment, by)
            for source in request.source_hospitals:
                conn.execute(
                    "INSERT INTO consent.per_visit_grant (physician_licence,"
                    " physician_hospital_code, patient_key, source_hospital_code, granted_at,"
                    " expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        request.physician_licence,
                        request.physician_hospital_code,
                        patient_key,
                        source,
                        bangkok_local(moment),
                        bangkok_local(end_of_bangkok_day(moment)),
                    ],
                )
        else:
            _close(conn, request, "declined", moment, by)
    if expired:  # recorded above (committed), then refused
        raise ConsentRefused("request_expired", "The request expired at the end of its day.")
    status = "approved" if approve else "declined"
    return replace(request, status=status, decided_at=moment)


def approve(
    conn: WarehouseConnection,
    patient_key: str,
    request_id: str,
    *,
    now: datetime | None = None,
    recorded_by: str = "citizen",
) -> PerVisitRequest:
    return _decide(conn, patient_key, request_id, True, utc_or_now(now), recorded_by)


def decline(
    conn: WarehouseConnection,
    patient_key: str,
    request_id: str,
    *,
    now: datetime | None = None,
    recorded_by: str = "citizen",
) -> PerVisitRequest:
    return _decide(conn, patient_key, request_id, False, utc_or_now(now), recorded_by)


def expire_requests(conn: WarehouseConnection, *, now: datetime | None = None) -> int:
    """Close pending requests whose day has ended; returns how many expired."""
    moment = utc_or_now(now)
    with conn.transaction():
        rows = conn.execute(
            f"SELECT {_REQUEST_COLUMNS} FROM consent.per_visit_request"
            " WHERE status = 'pending' AND expires_at <= ? ORDER BY request_id",
            [to_storage(moment)],
        ).fetchall()
        for row in rows:
            _close(conn, _request(row), "expired", moment, "system")
    return len(rows)
