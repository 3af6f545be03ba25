"""The consent service: check a request against the rules, append the event, project it.

Each public function runs one transaction: load the patient's events, fold them into the
current state, check the rule, append the event and rewrite the projection. A refusal
appends nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from expectations.national_id import is_valid_thai_national_id
from warehouse.clock import as_utc, bangkok_day, utc_now
from warehouse.consent import rules, storage
from warehouse.consent.model import Event, PatientState, SenderChoice, apply_event, fold
from warehouse.consent.rules import Participation, Registration
from warehouse.hospital_registry import Registry
from warehouse.pseudonym import patient_key as make_patient_key


def current_state(conn: Any, patient_key: str) -> PatientState | None:
    """The patient's state derived from the event log (not from the projection)."""
    return fold(storage.load_events(conn, patient_key)).get(patient_key)


def _record(conn: Any, state: PatientState | None, event: Event) -> PatientState:
    storage.append_event(conn, event)
    new_state = apply_event(state, event)
    assert new_state is not None  # every state event yields a state
    storage.write_projection(conn, new_state)
    return new_state


def _now(now: datetime | None) -> datetime:
    return as_utc(now) if now is not None else utc_now()


def register(
    conn: Any,
    registry: Registry,
    registration: Registration,
    pseudonym_key: bytes,
    *,
    now: datetime | None = None,
    recorded_by: str = "citizen",
) -> PatientState:
    moment = _now(now)
    participation = Participation.from_registry(registry, bangkok_day(moment))
    # The key is computed only from a valid ID; the ID itself goes no further.
    key = (
        make_patient_key(registration.national_id, pseudonym_key)
        if is_valid_thai_national_id(registration.national_id)
        else ""
    )
    with storage.transaction(conn):
        storage.lock_patient(conn, key)
        existing = current_state(conn, key) if key else None
        event = rules.check_registration(
            registration, existing, key, participation, moment, recorded_by
        )
        return _record(conn, existing, event)


def change_sources(
    conn: Any,
    registry: Registry,
    patient_key: str,
    choice: SenderChoice,
    *,
    now: datetime | None = None,
    recorded_by: str = "citizen",
) -> PatientState:
    moment = _now(now)
    participation = Participation.from_registry(registry, bangkok_day(moment))
    with storage.transaction(conn):
        storage.lock_patient(conn, patient_key)
        state = current_state(conn, patient_key)
        event = rules.check_sources_change(state, choice, participation, moment, recorded_by)
        return _record(conn, state, event)


def withdraw(
    conn: Any, patient_key: str, *, now: datetime | None = None, recorded_by: str = "citizen"
) -> PatientState:
    moment = _now(now)
    with storage.transaction(conn):
        storage.lock_patient(conn, patient_key)
        state = current_state(conn, patient_key)
        return _record(conn, state, rules.check_withdrawal(state, moment, recorded_by))


def rejoin(
    conn: Any,
    registry: Registry,
    patient_key: str,
    choice: SenderChoice | None = None,
    *,
    sensitive_allowed: bool = False,
    now: datetime | None = None,
    recorded_by: str = "citizen",
) -> PatientState:
    moment = _now(now)
    participation = Participation.from_registry(registry, bangkok_day(moment))
    with storage.transaction(conn):
        storage.lock_patient(conn, patient_key)
        state = current_state(conn, patient_key)
        event = rules.check_rejoin(
            state, choice, sensitive_allowed, participation, moment, recorded_by
        )
        return _record(conn, state, event)


def set_sensitive(
    conn: Any,
    patient_key: str,
    allowed: bool,
    *,
    now: datetime | None = None,
    recorded_by: str = "citizen",
) -> PatientState:
    moment = _now(now)
    with storage.transaction(conn):
        storage.lock_patient(conn, patient_key)
        state = current_state(conn, patient_key)
        return _record(conn, state, rules.check_sensitive(state, allowed, moment, recorded_by))
