"""Who could see what on date X, answered from the event history.

For one patient and one Bangkok calendar day: the consent in force through the day (a new
segment at every consent event of that day), the participating hospitals whose rows were
visible in each segment, whether sensitive rows were, which of those hospitals needed a
per-visit grant, and the per-visit requests and grants of that day. Every registered
physician of a participating hospital could view what was visible (DESIGN.md section 3),
subject to the per-visit rule.

Network membership and per-visit settings come from consent.hospital (the registry mirror):
moving a hospital between networks is not historised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from warehouse.clock import (
    after_today,
    as_utc,
    bangkok_local,
    start_of_bangkok_day,
    to_storage,
)
from warehouse.consent import storage
from warehouse.consent.errors import ConsentRefused
from warehouse.consent.model import STATE_EVENTS, PatientState, apply_event, fold
from warehouse.storage.protocol import WarehouseConnection


@dataclass(frozen=True)
class HospitalInfo:
    code: str
    network: str | None
    participating_since: date | None
    per_visit: bool


def _hospitals(conn: WarehouseConnection) -> list[HospitalInfo]:
    rows = conn.execute(
        "SELECT hospital_code, network_code, participating_since,"
        " coalesce(per_visit_consent, false) FROM consent.hospital ORDER BY hospital_code"
    ).fetchall()
    return [HospitalInfo(r[0], r[1], r[2], bool(r[3])) for r in rows]


def _visible(
    state: PatientState | None, hospitals: list[HospitalInfo], day: date
) -> list[dict[str, Any]]:
    if state is None or not state.active:
        return []
    return [
        {"hospital_code": h.code, "per_visit_required": h.per_visit}
        for h in hospitals
        if h.participating_since is not None
        and h.participating_since <= day
        and state.choice.covers(h.code, h.network)
    ]


def _segment(
    start: datetime, state: PatientState | None, hospitals: list[HospitalInfo], day: date
) -> dict[str, Any]:
    return {
        "from": bangkok_local(start).isoformat(),
        "status": "unregistered" if state is None else state.status,
        "sensitive_visible": bool(state and state.active and state.sensitive_allowed),
        "hospitals": _visible(state, hospitals, day),
    }


def _refuse_future(day: date) -> None:
    """The log cannot know tomorrow's withdrawals or grants: an answer would be a guess."""
    if after_today(day):
        raise ConsentRefused(
            "future_date", "The date is after today (Asia/Bangkok); ask again on or after it."
        )


def who_could_see(conn: WarehouseConnection, patient_key: str, day: date) -> dict[str, Any]:
    _refuse_future(day)
    start = start_of_bangkok_day(day)
    end = start_of_bangkok_day(day + timedelta(days=1))
    hospitals = _hospitals(conn)
    events = storage.load_events(conn, patient_key)
    state = fold([e for e in events if as_utc(e.occurred_at) < start]).get(patient_key)
    segments = [_segment(start, state, hospitals, day)]
    per_visit: list[dict[str, Any]] = []
    for event in events:
        at = as_utc(event.occurred_at)
        if not start <= at < end:
            continue
        if event.event_type in STATE_EVENTS:
            state = apply_event(state, event)
            segments.append(_segment(at, state, hospitals, day))
        elif event.event_type.startswith("per_visit_"):
            per_visit.append(
                {
                    "at": bangkok_local(at).isoformat(),
                    "event": event.event_type,
                    **{k: v for k, v in event.payload.items()},
                }
            )
    for index, segment in enumerate(segments):
        following = segments[index + 1]["from"] if index + 1 < len(segments) else None
        segment["until"] = following or bangkok_local(end).isoformat()
    grants = conn.execute(
        "SELECT physician_licence, physician_hospital_code, source_hospital_code, granted_at,"
        " expires_at FROM consent.per_visit_grant WHERE patient_key = ?"
        " AND granted_at >= ? AND granted_at < ? ORDER BY granted_at, source_hospital_code",
        [patient_key, bangkok_local(start), bangkok_local(end)],
    ).fetchall()
    return {
        "patient_key": patient_key,
        "date": day.isoformat(),
        "timezone": "Asia/Bangkok",
        "segments": segments,
        "per_visit_events": per_visit,
        "per_visit_grants": [
            {
                "physician_licence": g[0],
                "physician_hospital_code": g[1],
                "source_hospital_code": g[2],
                "granted_at": g[3].isoformat(),
                "expires_at": g[4].isoformat(),
            }
            for g in grants
        ],
    }


def who_could_see_all(conn: WarehouseConnection, day: date) -> list[dict[str, Any]]:
    """The answer for every patient with a consent event up to the end of `day`."""
    _refuse_future(day)
    end = start_of_bangkok_day(day + timedelta(days=1))
    keys = conn.execute(
        "SELECT DISTINCT patient_key FROM consent.event WHERE patient_key IS NOT NULL"
        " AND occurred_at < ? ORDER BY patient_key",
        [to_storage(end)],
    ).fetchall()
    return [who_could_see(conn, key, day) for (key,) in keys]
