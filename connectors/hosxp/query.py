"""One HOSxP query per source table, and how a row it returns is read.

A query selects the rows of one table (its `table`, whose primary key names a row in
rejects and record keys) changed inside the day's window, joined to what the contract
needs (the patient's national ID, the visit's date). `build` turns one row into zero or
more canonical rows (opdscreen gives one vital sign per measurement).

The window: a row belongs to the extract of D when its change stamp (the update column
HOSxP keeps for it or for its visit or admission; when that is null, the visit date) lies
in [start, end) Bangkok wall time, as HOSxP stores it. A row updated after the window
belongs to a later day, so a re-run or backfill of D reads the same rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any, Final

Canonical = dict[str, Any]

# pymysql hands back a DATE or DATETIME it cannot build as the text MariaDB sent.
_ZERO_DATE: Final = re.compile(r"^0000-00-00(?: 00:00:00(?:\.0+)?)?$")
# `alias.column` in a query's SQL: what the query needs from the schema.
_QUALIFIED: Final = re.compile(r"\b([a-z]{1,2})\.([a-z_][a-z0-9_]*)\b")
_SELECTED: Final = re.compile(r"\b([a-z]{1,2})\.([a-z_][a-z0-9_]*) AS ([a-z_][a-z0-9_]*)\b")


def in_window(stamp: str) -> str:
    """SQL: the change stamp `stamp` lies in the window (parameters %(start)s, %(end)s)."""
    return f"({stamp}) >= %(start)s AND ({stamp}) < %(end)s"


# Where a visit's and an admission's change stamps come from (docs/connectors.md).
VISIT_STAMP: Final = "COALESCE(q.update_datetime, TIMESTAMP(o.vstdate))"
ADMISSION_STAMP: Final = "COALESCE(i.update_datetime, TIMESTAMP(i.regdate))"
# A visit-level table's row joined to its visit, the visit's stamp and its patient.
VISIT_JOINS: Final = (
    "JOIN ovst o ON o.vn = {alias}.vn "
    "LEFT JOIN ovst_seq q ON q.vn = o.vn "
    "JOIN patient p ON p.hn = o.hn"
)
ADMISSION_JOINS: Final = "JOIN ipt i ON i.an = {alias}.an JOIN patient p ON p.hn = i.hn"


@dataclass(frozen=True)
class Query:
    entity: str
    table: str
    key: tuple[str, ...]  # result columns holding the table's primary key
    tables: Mapping[str, str]  # SQL alias -> HOSxP table
    sql: str
    build: Callable[[SourceRow], list[Canonical]]
    # canonical column -> the HOSxP column it comes from (how rejects name a field)
    fields: Mapping[str, str] = field(default_factory=dict)
    optional: bool = False  # imaging: read only where the hospital's schema has it

    @cached_property
    def needs(self) -> dict[str, set[str]]:
        """HOSxP table -> the columns the SQL reads from it."""
        needed: dict[str, set[str]] = {table: set() for table in self.tables.values()}
        for alias, column in _QUALIFIED.findall(self.sql):
            if alias in self.tables:
                needed[self.tables[alias]].add(column)
        return needed

    @cached_property
    def origins(self) -> dict[str, str]:
        """Result column -> the HOSxP `table.column` it is selected from."""
        return {
            name: f"{self.tables[alias]}.{column}"
            for alias, column, name in _SELECTED.findall(self.sql)
            if alias in self.tables
        }


class SourceRow:
    """One result row, read leniently: a value that cannot be read becomes None and its
    column is remembered, so the connector can reject the row naming table, key and field."""

    def __init__(self, query: Query, values: Mapping[str, Any]) -> None:
        self.query = query
        self.values = values
        self.unreadable: list[str] = []

    @property
    def primary_key(self) -> str:
        return "|".join(self.text(column) or "" for column in self.query.key)

    def record_key(self, *extra: str) -> str:
        return "|".join((self.query.table, self.primary_key, *extra))

    def text(self, column: str) -> str | None:
        value = self.values[column]
        if value is None:
            return None
        if isinstance(value, bytes | bytearray):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                self._unreadable(column)
                return None
        text = str(value).strip()
        return text or None

    def day(self, column: str) -> date | None:
        value = self.values[column]
        if isinstance(value, datetime):
            return value.date()
        if value is None or isinstance(value, date):
            return value
        self._zero_or_unreadable(column, value)
        return None

    def moment(self, column: str, time_column: str | None = None) -> datetime | None:
        """A DATETIME column, or a DATE column with its TIME column (absent time: midnight)."""
        value = self.values[column]
        if isinstance(value, datetime):
            return value
        if value is None:
            return None
        if not isinstance(value, date):
            self._zero_or_unreadable(column, value)
            return None
        clock = self.values.get(time_column) if time_column else None
        if clock is None:
            return datetime.combine(value, time.min)
        # MariaDB's TIME spans -838 to 838 hours; a time of day lies in [0, 24 h).
        if isinstance(clock, timedelta) and timedelta(0) <= clock < timedelta(days=1):
            return datetime.combine(value, time.min) + clock
        self._unreadable(str(time_column))
        return None

    def number(self, column: str) -> float | None:
        value = self.values[column]
        if value is None:
            return None
        if isinstance(value, int | float | Decimal):
            return float(value)
        text = self.text(column)
        if text is None:
            return None
        try:
            return float(text)
        except ValueError:
            self._unreadable(column)
            return None

    def _zero_or_unreadable(self, column: str, value: object) -> None:
        # MariaDB's zero date is how HOSxP writes "no date": absent, hence null. Any other
        # date pymysql could not build (30 February) is present but unreadable.
        if isinstance(value, str) and _ZERO_DATE.match(value.strip()):
            return
        self._unreadable(column)

    def _unreadable(self, column: str) -> None:
        self.unreadable.append(column)


def sex_of(code: str | None) -> str:
    """HOSxP patient.sex: '1' male, '2' female (as the 43-file SEX it is exported to)."""
    return {"1": "male", "2": "female"}.get(code or "", "unknown")


def visit_ref(row: SourceRow) -> Canonical:
    """The encounter reference and person of a row joined to its visit (aliases o, p)."""
    return {
        "cid": row.text("cid"),
        "pid": row.text("hn"),
        "encounter_id": row.text("vn"),
        "encounter_class": "OPD",
        "service_date": row.day("vstdate"),
        "recorded_at": row.moment("changed_at"),
    }


def admission_ref(row: SourceRow) -> Canonical:
    """The encounter reference and person of a row joined to its admission (aliases i, p)."""
    return {
        "cid": row.text("cid"),
        "pid": row.text("hn"),
        "encounter_id": row.text("an"),
        "encounter_class": "IPD",
        "service_date": row.day("regdate"),
        "recorded_at": row.moment("changed_at"),
    }
