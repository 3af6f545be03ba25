"""Storage in the consent schema: the append-only event log and its projections.

Portable SQL (DuckDB and PostgreSQL, `?` placeholders) over the warehouse connection
interface. Every event is appended in the same transaction that updates the current-state
tables the pipeline reads (consent.patient_consent, consent.patient_sender), so the pipeline
and the published views never see one without the other.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from warehouse.clock import as_utc, bangkok_day, bangkok_local, to_storage
from warehouse.consent.model import Event, PatientState
from warehouse.storage.protocol import WarehouseConnection


def lock_patient(conn: WarehouseConnection, patient_key: str) -> None:
    """Serialise changes of one patient (PostgreSQL; DuckDB has one writer anyway).

    Without it two concurrent changes could both pass the once-a-day check.
    """
    if conn.dialect == "postgres":
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [f"consent:{patient_key}"])


def next_id(conn: WarehouseConnection, sequence: str) -> int:
    row = conn.execute(f"SELECT nextval('consent.{sequence}')").fetchone()
    return int(row[0])


def append_event(conn: WarehouseConnection, event: Event) -> int:
    event_id = next_id(conn, "event_id_seq")
    conn.execute(
        "INSERT INTO consent.event (event_id, patient_key, event_type, payload, occurred_at,"
        " recorded_by, verification_method, verified_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            event_id,
            event.patient_key,
            event.event_type,
            event.payload_json(),
            to_storage(event.occurred_at),
            event.recorded_by,
            event.verification_method,
            to_storage(event.verified_at) if event.verified_at else None,
        ],
    )
    return event_id


EVENT_COLUMNS = (
    "event_id, patient_key, event_type, payload, occurred_at, recorded_by,"
    " verification_method, verified_at"
)


def _event(row: tuple[Any, ...]) -> Event:
    return Event(
        event_id=int(row[0]),
        patient_key=row[1],
        event_type=row[2],
        payload=json.loads(row[3]),
        occurred_at=as_utc(row[4]),
        recorded_by=row[5],
        verification_method=row[6],
        verified_at=as_utc(row[7]) if row[7] is not None else None,
    )


def load_events(
    conn: WarehouseConnection, patient_key: str | None = None, until: datetime | None = None
) -> list[Event]:
    """Events in log order, for one patient (plus none of the others) or for everyone."""
    clauses: list[str] = []
    params: list[Any] = []
    if patient_key is not None:
        clauses.append("patient_key = ?")
        params.append(patient_key)
    if until is not None:
        clauses.append("occurred_at <= ?")
        params.append(to_storage(until))
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM consent.event{where} ORDER BY event_id", params
    ).fetchall()
    return [_event(row) for row in rows]


def load_events_of_patients_active_since(conn: WarehouseConnection, since: datetime) -> list[Event]:
    """Every event, in log order, of the patients who have an event after `since`.

    What happened since, plus the earlier history that says where each of them stood at
    `since`; patients without a later event are left out (their state did not move).
    """
    rows = conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM consent.event WHERE patient_key IN ("
        " SELECT patient_key FROM consent.event WHERE occurred_at > ?)"
        " ORDER BY event_id",
        [to_storage(since)],
    ).fetchall()
    return [_event(row) for row in rows]


def projection_rows(state: PatientState) -> tuple[tuple[Any, ...], list[tuple[str, str, str]]]:
    """The patient's consent.patient_consent row and consent.patient_sender rows."""
    consent_row = (
        state.patient_key,
        state.status,
        state.choice.scope,
        state.sensitive_allowed,
        bangkok_day(state.consenting_since),
        bangkok_local(state.changed_at),
    )
    senders = [(state.patient_key, "network", code) for code in sorted(state.choice.networks)]
    senders += [(state.patient_key, "hospital", code) for code in sorted(state.choice.hospitals)]
    return consent_row, senders


def write_projection(conn: WarehouseConnection, state: PatientState) -> None:
    """Replace the patient's rows in the current-state tables with `state`."""
    conn.execute("DELETE FROM consent.patient_sender WHERE patient_key = ?", [state.patient_key])
    conn.execute("DELETE FROM consent.patient_consent WHERE patient_key = ?", [state.patient_key])
    consent_row, senders = projection_rows(state)
    conn.execute(
        "INSERT INTO consent.patient_consent (patient_key, status, sender_scope,"
        " sensitive_allowed, registered_on, changed_at) VALUES (?, ?, ?, ?, ?, ?)",
        list(consent_row),
    )
    for sender in senders:
        conn.execute(
            "INSERT INTO consent.patient_sender (patient_key, kind, code) VALUES (?, ?, ?)",
            list(sender),
        )
