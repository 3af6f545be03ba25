"""Turn a parsed 43-file (string columns) into canonical contract tables, vectorised.

Every step is a pyarrow.compute kernel over whole columns; there is no Python loop per row.
A value that is present but unreadable becomes null and its canonical column name goes
into `invalid_fields`, so validation can reject the row and name the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from connectors.contract import TIMESTAMP, VITAL_CODES, schema_for
from connectors.file43.layout import EntityMapping, Source
from connectors.file43.reader import ParsedFile

Era = Literal["gregorian", "buddhist"]
Column: TypeAlias = pa.Array | pa.ChunkedArray

BUDDHIST_OFFSET = 543
# A year outside these bounds cannot be right for the declared era (the era is authoritative:
# a Gregorian hospital writing 2567, or a Buddhist one writing 2024, gives an invalid field).
YEAR_BOUNDS: dict[str, tuple[int, int]] = {"gregorian": (1800, 2400), "buddhist": (2400, 2943)}
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)$"
_NULL_STRING = pa.scalar(None, pa.string())
_NULL_TS = pa.scalar(None, TIMESTAMP)


@dataclass(frozen=True)
class Lineage:
    hospital_code: str
    extract_date: date
    batch_id: str


class _Values:
    """Reads canonical values out of one file's string columns, caching per source field."""

    def __init__(self, table: pa.Table, era: Era) -> None:
        self._table = table
        self._era = era
        self._texts: dict[str, Column] = {}
        self._whens: dict[tuple[str, bool], tuple[Column, Column]] = {}
        self.num_rows = table.num_rows

    def text(self, name: str) -> Column:
        if name not in self._texts:
            # Empty fields are already null (parser option); whitespace-only ones become '' here.
            trimmed = pc.ascii_trim_whitespace(self._table.column(name))
            empty = pc.equal(trimmed, "")
            if pc.any(empty).as_py():
                trimmed = pc.if_else(empty, _NULL_STRING, trimmed)
            self._texts[name] = trimmed
        return self._texts[name]

    def when(self, name: str, *, with_time: bool) -> tuple[Column, Column]:
        """(timestamp, readable) for a YYYYMMDD (or YYYYMMDDHHMMSS when with_time) field."""
        key = (name, with_time)
        if key not in self._whens:
            self._whens[key] = self._parse_when(self.text(name), with_time=with_time)
        return self._whens[key]

    def _parse_when(self, text: Column, *, with_time: bool) -> tuple[Column, Column]:
        width = 14 if with_time else 8
        length = pc.utf8_length(text)
        if with_time and pc.any(pc.equal(length, 8)).as_py():
            # a date alone in a datetime field means midnight
            text = pc.if_else(
                pc.equal(length, 8), pc.binary_join_element_wise(text, "000000", ""), text
            )
            length = pc.utf8_length(text)
        shaped = pc.fill_null(pc.and_(pc.equal(length, width), pc.ascii_is_decimal(text)), True)
        if not pc.all(shaped).as_py():
            text = pc.if_else(shaped, text, _NULL_STRING)
        if self._era == "buddhist":
            # Whole-number arithmetic moves the year without rebuilding strings: YYYY... - 543.
            shift = BUDDHIST_OFFSET * 10 ** (width - 4)
            text = pc.cast(pc.subtract(pc.cast(text, pa.int64()), shift), pa.string())
        fmt = "%Y%m%d%H%M%S" if with_time else "%Y%m%d"
        parsed = pc.strptime(text, format=fmt, unit="us", error_is_null=True)
        low, high = YEAR_BOUNDS[self._era]
        if self._era == "buddhist":
            low, high = low - BUDDHIST_OFFSET, high - BUDDHIST_OFFSET
        year = pc.year(parsed)
        valid = pc.and_(pc.greater_equal(year, low), pc.less_equal(year, high))
        # strptime rolls 20230230 over to 1 March and second 60 to the next minute: compare back.
        day = pc.cast(pc.utf8_slice_codeunits(text, 6, 8), pa.int64())
        valid = pc.and_(valid, pc.equal(pc.day(parsed), day))
        if with_time:
            second = pc.cast(pc.utf8_slice_codeunits(text, 12, 14), pa.int64())
            valid = pc.and_(valid, pc.equal(pc.second(parsed), second))
        valid = pc.fill_null(valid, False)
        return pc.if_else(valid, parsed, _NULL_TS), valid

    def number(self, name: str) -> tuple[Column, Column]:
        """(float64, is_numeric) for a numeric field."""
        text = self.text(name)
        numeric = pc.fill_null(pc.match_substring_regex(text, _NUMBER), False)
        value = pc.cast(pc.if_else(numeric, text, _NULL_STRING), pa.float64())
        return value, numeric

    def present(self, name: str) -> Column:
        return pc.is_valid(self.text(name))

    def value(self, source: Source) -> tuple[Column, Column | None]:
        """(values, invalid mask or None) for one canonical column."""
        kind = source.kind
        if kind == "const":
            return pa.repeat(pa.scalar(source.value, pa.string()), self.num_rows), None
        name = source.fields[0]
        if kind == "text":
            return self.text(name), None
        if kind == "sex":
            sex = self.text(name)
            mapped = pc.if_else(
                pc.equal(sex, "1"), "male", pc.if_else(pc.equal(sex, "2"), "female", "unknown")
            )
            return pc.fill_null(mapped, "unknown"), None
        if kind in ("date", "datetime", "date_of"):
            parsed, valid = self.when(name, with_time=kind != "date")
            values = parsed if kind == "datetime" else pc.cast(parsed, pa.date32())
            return values, self._invalid(name, valid)
        if kind == "date_time":
            return self._date_time(name, source.fields[1])
        if kind == "date_or_date_of":
            return self._date_or_date_of(name, source.fields[1])
        if kind in ("number", "number_lenient"):
            values, numeric = self.number(name)
            invalid = self._invalid(name, numeric) if kind == "number" else None
            return values, invalid
        if kind == "non_numeric_text":
            _, numeric = self.number(name)
            return pc.if_else(numeric, _NULL_STRING, self.text(name)), None
        raise ValueError(f"unknown read kind {kind!r}")

    def _invalid(self, name: str, valid: Column) -> Column:
        return pc.and_(self.present(name), pc.invert(valid))

    def _date_time(self, date_field: str, time_field: str) -> tuple[Column, Column]:
        time = self.text(time_field)
        time = pc.if_else(
            pc.equal(pc.utf8_length(time), 4), pc.binary_join_element_wise(time, "00", ""), time
        )
        combined = pc.binary_join_element_wise(
            self.text(date_field), pc.fill_null(time, "000000"), ""
        )
        parsed, valid = self._parse_when(combined, with_time=True)
        return parsed, pc.and_(self.present(date_field), pc.invert(valid))

    def _date_or_date_of(self, date_field: str, datetime_field: str) -> tuple[Column, Column]:
        own, own_valid = self.when(date_field, with_time=False)
        fallback, fallback_valid = self.when(datetime_field, with_time=True)
        has_own = self.present(date_field)
        values = pc.if_else(has_own, own, fallback)
        invalid = pc.if_else(
            has_own, pc.invert(own_valid), self._invalid(datetime_field, fallback_valid)
        )
        return pc.cast(values, pa.date32()), invalid


def build_tables(
    parsed: ParsedFile, mapping: EntityMapping, lineage: Lineage, era: Era
) -> pa.Table:
    """The canonical table of `mapping.entity` fed by one parsed file."""
    values = _Values(parsed.table, era)
    n = values.num_rows
    columns: dict[str, Column] = {
        "hospital_code": pa.repeat(pa.scalar(lineage.hospital_code, pa.string()), n),
        "source_file": pa.repeat(pa.scalar(parsed.source.name, pa.string()), n),
        "source_line": parsed.source_lines,
        "extract_date": pa.repeat(pa.scalar(lineage.extract_date, pa.date32()), n),
        "batch_id": pa.repeat(pa.scalar(lineage.batch_id, pa.string()), n),
    }
    invalid: list[tuple[str, Column]] = []
    for name, source in mapping.columns.items():
        column, bad = values.value(source)
        columns[name] = column
        if bad is not None:
            invalid.append((name, bad))
    key_parts = [values.text(f) for f in mapping.key_fields]
    record_key = _join([pa.scalar(mapping.key_prefix), *key_parts])
    if not mapping.vitals:
        columns["record_key"] = record_key
        columns["invalid_fields"] = _invalid_fields(invalid, n)
        return _assemble(mapping.entity, columns, n)

    tables = []
    for source_field, code in mapping.vitals:
        value, numeric = values.number(source_field)
        present = values.present(source_field)
        vital = dict(columns)
        vital["record_key"] = _join([record_key, pa.scalar(code)])
        vital["vital_code"] = pa.repeat(pa.scalar(code), n)
        vital["unit"] = pa.repeat(pa.scalar(VITAL_CODES[code]), n)
        vital["value"] = value
        vital_invalid = [*invalid, ("value", pc.and_(present, pc.invert(numeric)))]
        vital["invalid_fields"] = _invalid_fields(vital_invalid, n)
        tables.append(_assemble(mapping.entity, vital, n).filter(present))
    return pa.concat_tables(tables)


def _join(parts: list) -> Column:
    return pc.binary_join_element_wise(*parts, "|", null_handling="replace", null_replacement="")


def _invalid_fields(invalid: list[tuple[str, Column]], n: int) -> Column:
    invalid = [(name, mask) for name, mask in invalid if pc.any(mask).as_py()]
    if not invalid:
        return pa.nulls(n, pa.string())
    # 'name,' per invalid column, concatenated, trailing comma trimmed. (null_handling='skip'
    # of binary_join_element_wise drops all-null rows in pyarrow 26, so it is not used.)
    parts = [pc.if_else(mask, pa.scalar(f"{name},"), pa.scalar("")) for name, mask in invalid]
    joined = pc.utf8_rtrim(pc.binary_join_element_wise(*parts, ""), characters=",")
    return pc.if_else(pc.equal(joined, ""), _NULL_STRING, joined)


def _assemble(entity: str, columns: dict[str, Column], n: int) -> pa.Table:
    schema = schema_for(entity)
    arrays = []
    for field in schema:
        column = columns.get(field.name)
        if column is None:
            column = pa.nulls(n, field.type)
        elif column.type != field.type:
            column = column.cast(field.type)
        arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=schema)
