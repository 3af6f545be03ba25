"""One HOSxP query per source table, declared as what it reads.

A query selects the rows of one table (its `table`, whose primary key names a row in
rejects and record keys) changed inside the day's window, joined to what the contract
needs (the patient's national ID, the visit or admission it belongs to). Each canonical
column is read from one `alias.column`, selected under the canonical name, so the SQL,
the mapping and the names rejects give (`source_field`) come from one declaration.

The window: a row belongs to the extract of D when its change stamp (the update column
HOSxP keeps for it or for its visit or admission; when that is null, the visit date) lies
in [start, end) Bangkok wall time, as HOSxP stores it. A row updated after the window
belongs to a later day, so a re-run or backfill of D reads the same rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final

from connectors.hosxp.row import TIME_SUFFIX, SourceRow

Canonical = dict[str, Any]
Build = Callable[[SourceRow, Canonical], list[Canonical]]

# `alias.column` in a query's SQL: what the query needs from the schema.
_QUALIFIED: Final = re.compile(r"\b([a-z]{1,2})\.([a-z_][a-z0-9_]*)\b")


@dataclass(frozen=True)
class Read:
    """How a canonical column is read: SourceRow's reader `kind` over `source` (SQL,
    usually `alias.column`); a moment may take its time of day from a TIME column."""

    kind: str  # text | day | moment | number
    source: str
    time_source: str | None = None


def text(source: str) -> Read:
    return Read("text", source)


def day(source: str) -> Read:
    return Read("day", source)


def number(source: str) -> Read:
    return Read("number", source)


def moment(source: str, time_source: str | None = None) -> Read:
    return Read("moment", source, time_source)


def in_window(stamp: str) -> str:
    """SQL: the change stamp `stamp` lies in the window (parameters %(start)s, %(end)s)."""
    return f"({stamp}) >= %(start)s AND ({stamp}) < %(end)s"


@dataclass(frozen=True)
class Parent:
    """What a detail row belongs to (a visit or an admission): how it is joined, its
    change stamp, and the encounter reference and person read through it."""

    table: str
    alias: str
    join: str  # joins the parent to the detail table `{alias}`
    joins: str  # the parent's own joins (its stamp, its patient)
    tables: Mapping[str, str]
    stamp: str
    reads: Mapping[str, Read]
    encounter_class: str


def change_stamp(updated: str, dated: str) -> str:
    """SQL: the update column, or midnight of the date when it is null or a zero date
    (HOSxP writes 0000-00-00 00:00:00 for "never"; NULLIF(x, 0) makes that null)."""
    return f"COALESCE(NULLIF({updated}, 0), TIMESTAMP({dated}))"


# Where a visit's and an admission's change stamps come from (docs/connectors.md).
VISIT_STAMP: Final = change_stamp("q.update_datetime", "o.vstdate")
ADMISSION_STAMP: Final = change_stamp("i.update_datetime", "i.regdate")

VISIT: Final = Parent(
    table="ovst",
    alias="o",
    join="JOIN ovst o ON o.vn = {alias}.vn",
    joins="LEFT JOIN ovst_seq q ON q.vn = o.vn JOIN patient p ON p.hn = o.hn",
    tables={"o": "ovst", "q": "ovst_seq", "p": "patient"},
    stamp=VISIT_STAMP,
    reads={
        "cid": text("p.cid"),
        "pid": text("o.hn"),
        "encounter_id": text("o.vn"),
        "service_date": day("o.vstdate"),
        "recorded_at": moment("q.update_datetime"),
    },
    encounter_class="OPD",
)
ADMISSION: Final = Parent(
    table="ipt",
    alias="i",
    join="JOIN ipt i ON i.an = {alias}.an",
    joins="JOIN patient p ON p.hn = i.hn",
    tables={"i": "ipt", "p": "patient"},
    stamp=ADMISSION_STAMP,
    reads={
        "cid": text("p.cid"),
        "pid": text("i.hn"),
        "encounter_id": text("i.an"),
        "service_date": day("i.regdate"),
        "recorded_at": moment("i.update_datetime"),
    },
    encounter_class="IPD",
)


def _as_read(row: SourceRow, values: Canonical) -> list[Canonical]:
    return [values]


@dataclass(frozen=True)
class Query:
    entity: str
    table: str
    alias: str
    key: tuple[str, ...]  # the table's primary key columns
    reads: Mapping[str, Read]  # canonical (or build-time) column -> how it is read
    parent: Parent | None = None
    tables: Mapping[str, str] | None = None  # further aliases the SQL uses -> HOSxP tables
    joins: str = ""
    via: str | None = None  # the alias holding the parent's key, when not the table's own
    where: str | None = None  # default: the parent's stamp in the window
    build: Build = _as_read  # the read values -> canonical rows
    key_suffix: bool = False  # its builder appends a part to the record key (a vital code)
    optional: bool = False  # imaging: read only where the hospital's schema has it

    @cached_property
    def all_reads(self) -> dict[str, Read]:
        return {**(self.parent.reads if self.parent else {}), **self.reads}

    @cached_property
    def aliases(self) -> dict[str, str]:
        found = {self.alias: self.table, **(self.tables or {})}
        if self.parent is not None:
            found.update(self.parent.tables)
        return found

    @cached_property
    def _select_from(self) -> str:
        selected = [f"{self.alias}.{column} AS pk_{column}" for column in self.key]
        for name, read in self.all_reads.items():
            selected.append(f"{read.source} AS {name}")
            if read.time_source:
                selected.append(f"{read.time_source} AS {name}{TIME_SUFFIX}")
        joins = [self.joins]
        if self.parent is not None:
            if self.parent.table != self.table:
                joins.append(self.parent.join.format(alias=self.via or self.alias))
            joins.append(self.parent.joins)
        return (
            f"SELECT {', '.join(selected)} FROM {self.table} {self.alias} "
            f"{' '.join(j for j in joins if j)}"
        )

    def _ordered(self, where: str) -> str:
        order = ", ".join(f"{self.alias}.{column}" for column in self.key)
        return f"{self._select_from} WHERE {where} ORDER BY {order}"

    @cached_property
    def sql(self) -> str:
        """The rows changed in the window (parameters %(start)s, %(end)s)."""
        assert self.where or self.parent, f"{self.table}: a query needs a window"
        return self._ordered(self.where or in_window(self.parent.stamp))  # type: ignore[union-attr]

    @cached_property
    def history_sql(self) -> str:
        """Every row of the patients named by national ID (parameter %(national_ids)s), in
        or out of any window: a newly consenting patient's full history. Every query reads
        the patient as alias p."""
        return self._ordered("p.cid IN %(national_ids)s")

    @cached_property
    def needs(self) -> dict[str, set[str]]:
        """HOSxP table -> the columns the SQL reads from it."""
        needed: dict[str, set[str]] = {table: set() for table in self.aliases.values()}
        for alias, column in _QUALIFIED.findall(self.sql):
            if alias in self.aliases:
                needed[self.aliases[alias]].add(column)
        return needed

    @cached_property
    def origins(self) -> dict[str, str]:
        """Result column -> the HOSxP `table.column` it is selected from (when it is one)."""
        found = {}
        for name, read in self.all_reads.items():
            for column, source in ((name, read.source), (name + TIME_SUFFIX, read.time_source)):
                match = _QUALIFIED.fullmatch(source or "")
                if match and match[1] in self.aliases:
                    found[column] = f"{self.aliases[match[1]]}.{match[2]}"
        return found

    @cached_property
    def readers(self) -> list[tuple[str, Callable[[SourceRow, str], Any]]]:
        """(result column, SourceRow reader) per read, looked up once rather than per row."""
        return [(name, getattr(SourceRow, read.kind)) for name, read in self.all_reads.items()]

    def rows(self, row: SourceRow) -> list[Canonical]:
        """The canonical rows of one result row (none, one, or several for vital signs)."""
        values = {name: reader(row, name) for name, reader in self.readers}
        values["record_key"] = row.record_key()
        if self.parent is not None:
            values["encounter_class"] = self.parent.encounter_class
        return self.build(row, values)

    def primary_key_of(self, record_key: str) -> str:
        """The primary key inside a record key this query made (`<table>|<key>[|<suffix>]`)."""
        key = record_key.removeprefix(f"{self.table}|")
        return key.rsplit("|", 1)[0] if self.key_suffix else key

    def source_row(self, values: Mapping[str, Any]) -> SourceRow:
        return SourceRow(self.table, [f"pk_{column}" for column in self.key], values)
