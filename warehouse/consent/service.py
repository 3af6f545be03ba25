"""The consent service: check a request against the rules, append the event, project it.

Each public function runs one transaction: load the patient's events, fold them into the
current state, check the rule, append the event and rewrite the projection. A refusal
appends nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from expectations.national_id import is_valid_thai_national_id
from warehouse.clock import bangkok_day, utc_or_now
from warehouse.consent import rules, storage
from warehouse.consent.model import Event, PatientState, SenderChoice, apply_event, fold
from warehouse.consent.rules import Participation, Registration
from warehouse.hospital_registry import Registry
from warehouse.pseudonym import patient_key as make_patient_key
from warehouse.storage.protocol import WarehouseConnection


def current_state(conn: WarehouseConnection, patient_key: str) -> PatientState | None:
    """The patient's state derived from the event log (not from the projection)."""
    return fold(storage.load_events(conn, patient_key)).get(patient_key)


def _record(conn: WarehouseConnection, state: PatientState | None, event: Event) -> PatientState:
    storage.append_event(conn, event)
    new_state = apply_event(state, event)
    assert new_state is not None  # every state event yields a state
    storage.write_projection(conn, new_state)
    return new_state


def _change(
    conn: WarehouseConnection, patient_key: str, check: Callable[[PatientState | None], Event]
) -> PatientState:
    """One transaction: lock the patient, fold their events, check the rule (`check` returns
    the event or raises ConsentRefused), append the event and rewrite the projection."""
    with conn.transaction():
        storage.lock_patient(conn, patient_key)
        state = current_state(conn, patient_key) if patient_key else None
        return _record(conn, state, check(state))


def register(
    conn: WarehouseConnection,
    registry: Registry,
    registration: Registration,
    pseudonym_key: bytes,
    *,
    now: datetime | None = None,
    recorded_by: str = "citizen",
) -> PatientState:
    moment = utc_or_now(now)
    participation = Participation.from_registry(registry, bangkok_day(moment))
    # The key is computed only from a valid ID; the ID itself goes no further.
    key = (
        make_patient_key(registration.national_id, pseudonym_key)
        if is_valid_thai_national_id(registration.national_id)
        else ""
    )
    return _change(
        conn,
        key,
        lambda existing: rules.check_registration(
            registration, existing, key, participation, moment, recorded_by
        ),
    )


def change_sources(
    conn: WarehouseConnection,
    registry: Registry,
    patient_key: str,
    choice: SenderChoice,
    *,
    now: datetime | None = None,
    recorded_by: str = "citizen",
) -> PatientState:
    moment = utc_or_now(now)
    participation = Participation.from_registry(registry, bangkok_day(moment))
    return _change(
        conn,
        patient_key,
        lambda state: rules.check_sources_change(state, choice, participation, moment, recorded_by),
    )


def withdraw(
    conn: WarehouseConnection,
    patient_key: str,
    *,
    now: datetime | None = None,
    recorded_by: str = "citizen",
) -> PatientState:
    moment = utc_or_now(now)
    return _change(
        conn, patient_key, lambda state: rules.check_withdrawal(state, moment, recorded_by)
    )


def rejoin(
    conn: WarehouseConnection,
    registry: Registry,
    patient_key: str,
    choice: SenderChoice | None = None,
    *,
    sensitive_allowed: bool = False,
    now: datetime | None = None,
    recorded_by: str = "citizen",
) -> PatientState:
    moment = utc_or_now(now)
    participation = Participation.from_registry(registry, bangkok_day(moment))
    return _change(
        conn,
        patient_key,
        lambda state: rules.check_rejoin(
            state, choice, sensitive_allowed, participation, moment, recorded_by
        ),
    )


def set_sensitive(
    conn: WarehouseConnection,
    patient_key: str,
    allowed: bool,
    *,
    now: datetime | None = None,
    recorded_by: str = "citizen",
) -> PatientState:
    moment = utc_or_now(now)
    return _change(
        conn, patient_key, lambda state: rules.check_sensitive(state, allowed, moment, recorded_by)
    )
