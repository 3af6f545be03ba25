"""Bulk registrations (the citizen app's feed, `healthlink consent import`) through the rules.

Every line is checked in Python exactly as `service.register` checks one registration (the
same `rules.check_registration`, on the line's own registration time), then every event and
the projection are written with `insert_arrow` in one transaction: a national file of a
hundred thousand lines takes seconds, not the hour one transaction per line would.

A line with status `withdrawn` becomes `registered` at `registered_at` followed by
`withdrawn` at the import time (the feed says the withdrawal happened by then, not when).

The file is read here, not by a CSV engine that stops at the first bad line: one
registration per physical line (UTF-8, a header line naming the ten columns in any order,
no multi-line quoted fields). A line that cannot be split into the header's fields, a field
that does not parse, and a line the rules refuse are each reported as a `LineRefusal`
(physical line number, blank lines and the header counted; the column; a reason code) and
append nothing; the good lines are imported. Refusals never carry the line's values. A file
that cannot be read at all (missing, a directory, unreadable, not UTF-8, empty, a bad
header) raises `ImportFileError`, whose message names the file and the problem only.
Booleans are `true` or `false` (any case): the feed is machine-written, and a consent flag
for sensitive data must never be guessed from `1`, `yes` or `maybe`.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from expectations.national_id import valid_national_id_mask
from warehouse.clock import as_utc, bangkok_day, to_storage, utc_or_now
from warehouse.consent import rules, storage
from warehouse.consent.errors import ConsentRefused
from warehouse.consent.model import Event, PatientState, SenderChoice, apply_event
from warehouse.consent.rules import Participation, Registration
from warehouse.hospital_registry import Registry
from warehouse.pseudonym import patient_keys
from warehouse.storage.protocol import WarehouseConnection

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


# The feed's columns (synthetic/consent.py writes them in this order; any order is read).
COLUMNS = (
    "cid",
    "birth_date",
    "registered_at",
    "status",
    "sender_scope",
    "sender_networks",
    "sender_hospitals",
    "sensitive_allowed",
    "verification_method",
    "verified_at",
)
BOOLEANS = {"true": True, "false": False}


class ImportFileError(ValueError):
    """The file cannot be imported at all; the message names the file, never its content."""


@dataclass(frozen=True)
class LineRefusal:
    """One refused line: where and why, never what it holds."""

    line: int  # physical line number in the file (the header is line 1, blank lines count)
    reason: str  # a reason code (warehouse.consent.errors.REASONS, or a format code below)
    field: str | None = None  # the column at fault, when one is

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "field": self.field, "reason": self.reason}

    def __str__(self) -> str:
        where = f" ({self.field})" if self.field else ""
        return f"line {self.line}: {self.reason}{where}"


# Format reason codes (the rules' own codes are in warehouse.consent.errors.REASONS).
LINE_REASONS = {
    "wrong_field_count": "the line does not split into the header's number of fields",
    "unparsable": "the line is not valid CSV (a stray quote or a NUL byte)",
    "malformed": "a field does not parse (a date, a time, a status or a sender scope)",
    "not_true_or_false": "a boolean field is not `true` or `false`",
    "in_the_future": "a time lies after the import",
}


@dataclass(frozen=True)
class Registrations:
    """The well-formed lines of a feed file, every column as text, and the lines refused
    before the rules (they could not be split into fields)."""

    table: pa.Table
    line_numbers: list[int]  # physical line of each row of `table`
    refused: list[LineRefusal] = field(default_factory=list)

    @property
    def lines_read(self) -> int:
        return int(self.table.num_rows) + len(self.refused)


@dataclass(frozen=True)
class ImportResult:
    imported: int
    withdrawn: int = 0
    refused: list[LineRefusal] = field(default_factory=list)  # by line, no personal data

    @property
    def read(self) -> int:
        """Data lines read (blank lines excepted): imported + refused."""
        return self.imported + len(self.refused)


class _Malformed(Exception):
    def __init__(self, column: str, reason: str = "malformed") -> None:
        super().__init__(column)
        self.column = column
        self.reason = reason


def _text(row: dict[str, Any], column: str) -> str:
    return str(row.get(column) or "").strip()


def _parse(row: dict[str, Any], column: str, parse: Callable[[str], Any]) -> Any:
    try:
        return parse(_text(row, column))
    except ValueError:
        raise _Malformed(column) from None


def _boolean(row: dict[str, Any], column: str) -> bool:
    value = BOOLEANS.get(_text(row, column).lower())
    if value is None:
        raise _Malformed(column, "not_true_or_false")
    return value


def _choice(row: dict[str, Any]) -> SenderChoice:
    scope = _text(row, "sender_scope").upper()
    if scope == "ALL":
        return SenderChoice.everyone()
    if scope != "LIST":
        raise _Malformed("sender_scope")
    networks = {c.strip() for c in _text(row, "sender_networks").split(";") if c.strip()}
    hospitals = {c.strip() for c in _text(row, "sender_hospitals").split(";") if c.strip()}
    return SenderChoice.of(networks, hospitals)


def participation_from_table(conn: WarehouseConnection) -> Callable[[date], Participation]:
    """Participation per day from the registry mirror consent.hospital (no registry at hand)."""
    rows = conn.execute(
        "SELECT hospital_code, network_code, participating_since, per_visit_consent"
        " FROM consent.hospital"
    ).fetchall()
    if not rows:
        raise ValueError(
            "consent.hospital is empty: mirror the hospital registry first (prepare_run or"
            " warehouse.consent.sender_choice.sync_hospitals), or pass the registry"
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
        raise _Malformed("registered_at", "in_the_future")
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
        sensitive_allowed=_boolean(row, "sensitive_allowed"),
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


def _reserve_event_ids(conn: WarehouseConnection, count: int) -> list[int]:
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
    found: list[str | None] = pc.if_else(valid, keys, pa.scalar(None, pa.string())).to_pylist()
    return found


# The column a rule's refusal points at, where one column decides it.
_REFUSAL_FIELDS = {
    "invalid_national_id": "cid",
    "already_registered": "cid",
    "under_age": "birth_date",
    "empty_choice": "sender_scope",
    "unknown_network": "sender_networks",
    "not_participating": "sender_hospitals",
}


def _check_lines(
    registrations: Registrations,
    keys: list[str | None],
    seen: set[str],
    participation: Callable[[date], Participation],
    moment: datetime,
    recorded_by: str,
) -> tuple[list[Event], list[PatientState], list[LineRefusal]]:
    """The events and states of the accepted lines, and the refused lines (by line number)."""
    events: list[Event] = []
    states: list[PatientState] = []
    refused: list[LineRefusal] = []
    rows = registrations.table.to_pylist()
    for row, key, line in zip(rows, keys, registrations.line_numbers, strict=True):
        try:
            if key is not None and key in seen:
                raise ConsentRefused("already_registered", "already registered")
            line_events, state = _check_line(row, key, participation, moment, recorded_by)
        except ConsentRefused as refusal:
            code = refusal.reason_code
            refused.append(LineRefusal(line, code, _REFUSAL_FIELDS.get(code)))
            continue
        except _Malformed as malformed:
            refused.append(LineRefusal(line, malformed.reason, malformed.column))
            continue
        seen.add(state.patient_key)
        events.extend(line_events)
        states.append(state)
    return events, states, refused


def import_registrations(
    conn: WarehouseConnection,
    registrations: Registrations | Path,
    pseudonym_key: bytes,
    registry: Registry | None = None,
    *,
    now: datetime | None = None,
    recorded_by: str = "citizen-app-feed",
) -> ImportResult:
    """Check every well-formed line (`read_registrations`) against the rules; write the
    accepted ones in bulk. Lines refused while reading are reported with the rules' refusals,
    in line order. Without `registry`, participation comes from consent.hospital.

    Given the feed file's path, it is read before the warehouse is touched (ImportFileError,
    naming the file only, and nothing written when it cannot be read at all)."""
    if not isinstance(registrations, Registrations):
        registrations = read_registrations(registrations)
    moment = utc_or_now(now)
    participation: Callable[[date], Participation]
    if registry is not None:
        participation = functools.cache(partial(Participation.from_registry, registry))
    else:
        participation = participation_from_table(conn)
    with conn.transaction():
        if conn.dialect == "postgres":
            # Registrations through the service wait for the import (one per person).
            conn.execute("LOCK TABLE consent.event IN SHARE ROW EXCLUSIVE MODE")
        seen = {
            key
            for (key,) in conn.execute(
                "SELECT DISTINCT patient_key FROM consent.event WHERE event_type = 'registered'"
            ).fetchall()
        }
        events, states, refused = _check_lines(
            registrations,
            _keys(registrations.table, pseudonym_key),
            seen,
            participation,
            moment,
            recorded_by,
        )
        # Chronological log; a patient's withdrawal (at import time) follows their registration.
        events.sort(key=lambda e: as_utc(e.occurred_at))
        _write(conn, events, states)
    return ImportResult(
        imported=len(states),
        withdrawn=sum(not s.active for s in states),
        refused=sorted([*registrations.refused, *refused], key=lambda r: r.line),
    )


def _write(conn: WarehouseConnection, events: list[Event], states: list[PatientState]) -> None:
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
    conn.insert_arrow("consent.event", _event_table(events, _reserve_event_ids(conn, len(events))))
    conn.insert_arrow(
        "consent.patient_consent", _columns([row for row, _ in projections], CONSENT_SCHEMA)
    )
    conn.insert_arrow(
        "consent.patient_sender",
        _columns([sender for _, senders in projections for sender in senders], SENDER_SCHEMA),
    )


def _read_text(path: Path) -> str:
    """The whole file as text, or ImportFileError naming the file and the problem."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImportFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImportFileError(f"{path}: is a directory, not a file") from None
    except PermissionError:
        raise ImportFileError(f"{path}: not readable (permission denied)") from None
    except OSError as error:
        raise ImportFileError(f"{path}: cannot be read ({error.strerror or 'I/O error'})") from None
    try:
        return data.decode("utf-8-sig")  # a byte-order mark is tolerated
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ImportFileError(f"{path}: not UTF-8 (first invalid byte on line {line})") from None


def _split(text: str) -> Iterator[tuple[int, str]]:
    """(physical line number, line) of every non-blank line; CRLF or LF endings."""
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if line.strip():
            yield number, line


def _fields(line: str) -> list[str] | None:
    """The CSV fields of one line, or None when it is not valid CSV (or holds a NUL, which
    no warehouse text column can store)."""
    if "\x00" in line:
        return None
    try:
        return next(csv.reader([line], strict=True))
    except csv.Error:
        return None


def _header(path: Path, fields: list[str] | None) -> list[str]:
    """The header's column names; ImportFileError when it is not the feed's header. The
    message names our columns and positions only: a headerless file starts with a person."""
    names = [name.strip().lower() for name in fields or []]
    missing = [column for column in COLUMNS if column not in names]
    unknown = [str(i) for i, name in enumerate(names, start=1) if name not in COLUMNS]
    duplicated = len(set(names)) != len(names)
    if fields is None or missing or unknown or duplicated:
        problems = [
            *(["line 1 is not valid CSV"] if fields is None else []),
            *([f"missing column(s) {', '.join(missing)}"] if missing and fields else []),
            *([f"unknown column(s) at position {', '.join(unknown)}"] if unknown else []),
            *(["a column is named twice"] if duplicated else []),
        ]
        raise ImportFileError(
            f"{path}: bad header ({'; '.join(problems)}); expected {','.join(COLUMNS)}"
        )
    return names


def read_registrations(path: Path) -> Registrations:
    """A registrations CSV: the header line first, then one registration per line.

    Lines that do not split into the header's fields are refused here, by physical line
    number; ImportFileError when the file as a whole cannot be read (see the module doc).
    """
    lines = _split(_read_text(path))
    first = next(lines, None)
    if first is None:
        raise ImportFileError(f"{path}: empty (no header line)")
    if first[0] != 1:
        raise ImportFileError(f"{path}: bad header (line 1 is blank)")
    header = _header(path, _fields(first[1]))
    values: list[list[str]] = [[] for _ in header]
    line_numbers: list[int] = []
    refused: list[LineRefusal] = []
    for number, line in lines:
        fields = _fields(line)
        if fields is None:
            refused.append(LineRefusal(number, "unparsable"))
        elif len(fields) != len(header):
            refused.append(LineRefusal(number, "wrong_field_count"))
        else:
            line_numbers.append(number)
            for column, value in zip(values, fields, strict=True):
                column.append(value)
    table = pa.table([pa.array(column, pa.string()) for column in values], names=header)
    return Registrations(table, line_numbers, refused)


__all__ = [
    "COLUMNS",
    "LINE_REASONS",
    "ImportFileError",
    "ImportResult",
    "LineRefusal",
    "Registrations",
    "import_registrations",
    "participation_from_table",
    "read_registrations",
]
