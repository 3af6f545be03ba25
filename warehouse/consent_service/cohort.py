"""Consent's effect on the sync's input: each hospital's cohort, new versus continuing.

A patient is newly consenting to a hospital when they may send now but could not at some
moment since the last sync (registration, rejoining, the hospital added to their choice, the
hospital joining Health Link under an ALL or network choice, or a withdrawal in between,
after which their rows were purged). Those patients need a full-history request; the others
are incremental (docs/consent.md, "Full history").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from warehouse.consent_service import storage
from warehouse.consent_service.clock import as_utc
from warehouse.consent_service.model import Event, PatientState, apply_event, fold


@dataclass(frozen=True)
class CohortChanges:
    hospital_code: str
    newly_consenting: list[str]  # patient keys needing a full-history extract
    continuing: list[str]  # patient keys served by incremental extracts
    hospital_joined: bool = False  # the hospital itself joined since: its whole cohort is new


def _network_of(conn: Any, hospital_code: str) -> str | None:
    row = conn.execute(
        "SELECT network_code FROM consent.hospital WHERE hospital_code = ?", [hospital_code]
    ).fetchone()
    return row[0] if row else None


def _joined_at(conn: Any, hospital_code: str) -> datetime | None:
    """When the hospital joined (its hospital_joined event); None: no event, counts as always."""
    rows = conn.execute(
        "SELECT payload, occurred_at FROM consent.event WHERE event_type = 'hospital_joined'"
        " ORDER BY event_id"
    ).fetchall()
    for payload, occurred_at in rows:
        if json.loads(payload)["hospital_code"] == hospital_code:
            return as_utc(occurred_at)
    return None


def cohort_changes(
    conn: Any, hospital_code: str, since: datetime, events: list[Event] | None = None
) -> CohortChanges:
    """Patients who may send to `hospital_code` now, split by whether that is new since `since`.

    `events`: the whole log, when the caller already read it (one read for every hospital).
    """
    network = _network_of(conn, hospital_code)
    joined_at = _joined_at(conn, hospital_code)
    since_utc = as_utc(since)

    def allowed(state: PatientState | None) -> bool:
        return state is not None and state.active and state.choice.covers(hospital_code, network)

    events = storage.load_events(conn) if events is None else events
    states = fold([e for e in events if as_utc(e.occurred_at) <= since_utc])
    interrupted = {key for key, state in states.items() if not allowed(state)}
    for event in events:
        if event.patient_key is None or as_utc(event.occurred_at) <= since_utc:
            continue
        new = apply_event(states.get(event.patient_key), event)
        if new is not None:
            states[event.patient_key] = new
            if not allowed(new) or event.event_type in ("registered", "rejoined"):
                interrupted.add(event.patient_key)
    now_allowed = sorted(key for key, state in states.items() if allowed(state))
    # A hospital that joined after `since` is new for all its patients.
    hospital_new = joined_at is not None and joined_at > since_utc
    newly = [key for key in now_allowed if hospital_new or key in interrupted]
    continuing = [key for key in now_allowed if not (hospital_new or key in interrupted)]
    return CohortChanges(hospital_code, newly, continuing, hospital_new)
