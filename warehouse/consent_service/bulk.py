"""Bulk registrations (the citizen app's feed, `healthlink consent import`) through the rules.

Every line is checked in Python exactly as `service.register` checks one registration (the
same `rules.check_registration`, on the line's own registration time), then every event and
the projection are written with `insert_arrow` in one transaction: a national file of a
hundred thousand lines takes seconds, not the hour one transaction per line would.

A line with status `withdrawn` becomes `registered` at `registered_at` followed by
`withdrawn` at the import time (the feed says the withdrawal happened by then, not when).
Refused lines are reported as "line N: reason_code" and append nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from expectations.national_id import valid_national_id_mask
from warehouse.consent_service import rules, storage
from warehouse.consent_service.clock import as_utc, bangkok_day, to_storage, utc_now
from warehouse.consent_service.errors import ConsentRefused
from warehouse.consent_service.model import Event, PatientState, SenderChoice, apply_event
from warehouse.consent_service.rules import Participation, Registration
from warehouse.pseudonym import patient_keys
from warehouse.registry import Registry

EVENT_SCHEMA = pa.schema(
    [
        ("event_id", pa.int64()),
        ("patient_key", pa.string()),
        ("event_type", pa.string()),
        ("payload", pa.string()),
        ("occurred_at", pa.timestamp("us")),
        ("recorded_by", pa.string()),
        ("verification_method", pa.string()),
        ("verified_at", pa.timestamp("us")),
    ]
)
CONSENT_SCHEMA = pa.schema(
    [
        ("patient_key", pa.string()),
        ("status", pa.string()),
        ("sender_scope", pa.string()),
        ("sensitive_allowed", pa.bool_()),
        ("registered_on", pa.date32()),
        ("changed_at", pa.timestamp("us")),
    ]
)
SENDER_SCHEMA = pa.schema(
    [("patient_key", pa.string()), ("kind", pa.string()), ("code", pa.string())]
)


@dataclass(frozen=True)
class ImportResult:
    imported: int
    withdrawn: int = 0
    refused: list[str] = field(default_factory=list)  # "line N: reason_code", no personal data


class _Malformed(Exception):
    def __init__(self, column: str) -> None:
        super().__init__(column)
        self.column = column


def _text(row: dict[str, Any], column: str) -> str:
    return str(row.get(column) or "").strip()


def _parse(row: dict[str, Any], column: str, parse: Callable[[str], Any]) -> Any:
    try:
        return parse(_text(row, column))
    except ValueError:
        raise _Malformed(column) from None


def _choice(row: dict[str, Any]) -> SenderChoice:
    scope = _text(row, "sender_scope").upper()
    if scope == "ALL":
        return SenderChoice.everyone()
    if scope != "LIST":
        raise _Malformed("sender_scope")
    networks = {c.strip() for c in _text(row, "sender_networks").split(";") if c.strip()}
    hospitals = {c.strip() for c in _text(row, "sender_hospitals").split(";") if c.strip()}
    return SenderChoice.of(networks, hospitals)


def participation_from_table(conn: Any) -> Callable[[date], Participation]:
    """Participation per day from the registry mirror consent.hospital (no registry at hand)."""
    rows = conn.execute(
        "SELECT hospital_code, network_code, participating_since, per_visit_consent"
        " FROM consent.hospital"
    ).fetchall()
    if not rows:
        raise ValueError(
            "consent.hospital is empty: mirror the hospital registry first (prepare_run or"
            " warehouse.consent.sync_hospitals), or pass the registry"
        )

    def on(day: date) -> Participation:
        current = [r for r in rows if r[2] is not None and r[2] <= day]
        return Participation(
            networks=frozenset(r[1] for r in rows),
            hospitals={r[0]: r[1] for r in current},
            per_visit=frozenset(r[0] for r in current if r[3]),
        )

    return on


def _check_line(
    row: dict[str, Any],
    key: str | None,
    participation: Callable[[date], Participation],
    now: datetime,
    recorded_by: str,
) -> tuple[list[Event], PatientState]:
    """`key`: the patient key of a valid national ID, None for an invalid one."""
    if key is None:
        raise ConsentRefused("invalid_national_id", "not a valid Thai ID")
    national_id = _text(row, "cid")
    status = _text(row, "status").lower()
    if status not in ("active", "withdrawn"):
        raise _Malformed("status")
    registered_at = as_utc(_parse(row, "registered_at", datetime.fromisoformat))
    if registered_at > now:
        raise _Malformed("registered_at")
    if not _text(row, "verified_at"):
        raise ConsentRefused("verification_missing", "no verification time")
    registration = Registration(
        national_id=national_id,
        birth_date=_parse(row, "birth_date", date.fromisoformat),
        verification_method=_text(row, "verification_method"),
        verified_at=as_utc(_parse(row, "verified_at", datetime.fromisoformat)),
        # The feed reports the patient's own verified identity: nobody registers for others.
        verified_national_id=national_id,
        choice=_choice(row),
        sensitive_allowed=_text(row, "sensitive_allowed").lower() in ("true", "1", "yes"),
    )
    registered = rules.check_registration(
        registration,
        None,
        key,
        participation(bangkok_day(registered_at)),
        registered_at,
        recorded_by,
        national_id_checked=True,
    )
    events = [registered]
    state = apply_event(None, registered)
    assert state is not None
    if status == "withdrawn":
        withdrawn = rules.check_withdrawal(state, now, recorded_by)
        events.append(withdrawn)
        state = apply_event(state, withdrawn)
        assert state is not None
    return events, state


def _reserve_event_ids(conn: Any, count: int) -> list[int]:
    if not count:
        return []
    rows = conn.execute(
        "SELECT nextval('consent.event_id_seq') FROM generate_series(1, ?)", [count]
    ).fetchall()
    return sorted(int(r[0]) for r in rows)


def _event_table(events: list[Event], ids: list[int]) -> pa.Table:
    return pa.Table.from_pydict(
        {
            "event_id": ids,
            "patient_key": [e.patient_key for e in events],
            "event_type": [e.event_type for e in events],
            "payload": [e.payload_json() for e in events],
            "occurred_at": [to_storage(e.occurred_at) for e in events],
            "recorded_by": [e.recorded_by for e in events],
            "verification_method": [e.verification_method for e in events],
            "verified_at": [to_storage(e.verified_at) if e.verified_at else None for e in events],
        },
        schema=EVENT_SCHEMA,
    )


def _columns(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    return pa.Table.from_arrays(
        [pa.array(list(c), f.type) for c, f in zip(columns, schema, strict=True)], schema=schema
    )


def _keys(table: pa.Table, pseudonym_key: bytes) -> list[str | None]:
    """Patient keys of the valid national IDs (vectorised: the file has a line per person)."""
    if "cid" not in table.column_names:
        return [None] * table.num_rows
    cid = pc.utf8_trim_whitespace(table.column("cid").combine_chunks().cast(pa.string()))
    valid = valid_national_id_mask(cid)
    keys = patient_keys(pc.if_else(valid, cid, pa.scalar("0" * 13)), pseudonym_key)
    return pc.if_else(valid, keys, pa.scalar(None, pa.string())).to_pylist()


def import_registrations(
    conn: Any,
    table: pa.Table,
    pseudonym_key: bytes,
    registry: Registry | None = None,
    *,
    now: datetime | None = None,
    recorded_by: str = "citizen-app-feed",
) -> ImportResult:
    """Check every row of `table` (the CSV's columns as text; row i is file line i + 2)
    against the rules; write the accepted ones in bulk."""
    moment = as_utc(now) if now is not None else utc_now()
    participation: Callable[[date], Participation]
    if registry is not None:
        participation = functools.cache(partial(Participation.from_registry, registry))
    else:
        participation = participation_from_table(conn)
    with storage.transaction(conn):
        if storage.dialect(conn) == "postgres":
            # Registrations through the service wait for the import (one per person).
            conn.execute("LOCK TABLE consent.event IN SHARE ROW EXCLUSIVE MODE")
        seen = {
            key
            for (key,) in conn.execute(
                "SELECT DISTINCT patient_key FROM consent.event WHERE event_type = 'registered'"
            ).fetchall()
        }
        events: list[Event] = []
        states: list[PatientState] = []
        refused: list[str] = []
        keys = _keys(table, pseudonym_key)
        for index, row in enumerate(table.to_pylist()):
            line_number = index + 2
            try:
                if keys[index] is not None and keys[index] in seen:
                    raise ConsentRefused("already_registered", "already registered")
                line_events, state = _check_line(
                    row, keys[index], participation, moment, recorded_by
                )
            except ConsentRefused as refusal:
                refused.append(f"line {line_number}: {refusal.reason_code}")
                continue
            except _Malformed as malformed:
                refused.append(f"line {line_number}: malformed ({malformed.column})")
                continue
            seen.add(state.patient_key)
            events.extend(line_events)
            states.append(state)
        # Chronological log; a patient's withdrawal (at import time) follows their registration.
        events.sort(key=lambda e: as_utc(e.occurred_at))
        projections = [storage.projection_rows(state) for state in states]
        imported = pa.table({"patient_key": pa.array([s.patient_key for s in states], pa.string())})
        # Projection rows written by the pre-service import path have no events: replace them.
        conn.create_temp_table(
            "imported_keys", "SELECT patient_key FROM consent.patient_consent WHERE 1 = 0"
        )
        conn.insert_arrow("imported_keys", imported)
        for table in ("consent.patient_sender", "consent.patient_consent"):
            conn.execute(
                f"DELETE FROM {table} WHERE patient_key IN (SELECT patient_key FROM imported_keys)"
            )
        conn.execute("DROP TABLE imported_keys")
        conn.insert_arrow(
            "consent.event", _event_table(events, _reserve_event_ids(conn, len(events)))
        )
        conn.insert_arrow(
            "consent.patient_consent",
            _columns([row for row, _ in projections], CONSENT_SCHEMA),
        )
        conn.insert_arrow(
            "consent.patient_sender",
            _columns([sender for _, senders in projections for sender in senders], SENDER_SCHEMA),
        )
    return ImportResult(
        imported=len(states),
        withdrawn=sum(not s.active for s in states),
        refused=refused,
    )


def read_registrations(path: Path) -> pa.Table:
    """A registrations CSV (header line first), every column as text."""
    with path.open("rb") as handle:
        header = handle.readline().decode("utf-8").strip().split(",")
    return pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False
        ),
    )


__all__ = ["ImportResult", "import_registrations", "participation_from_table", "read_registrations"]
