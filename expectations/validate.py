"""Validate one entity table of a batch: accepted rows, row rejects, a value-free document."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.base import Location, Reject, reject_hashes
from expectations.gx_context import batch_for
from expectations.suites import BANGKOK, EARLIEST_DATE, EntitySuite, Rule, suite_for

SourceField = Callable[[str, str], str]
# (source_file, source_line, record_key) -> where the row came from (Connector.row_location).
RowLocation = Callable[[str, int, str], Location]


def line_location(source_file: str, source_line: int, _record_key: str) -> Location:
    return Location.in_file(source_file, source_line)


# COMPLETE gives every failing row, identified by the frame's index (= the row's position,
# which is unique even where one source line feeds several rows, as SERVICE does for vitals).
# No index query; values are stripped from what we keep (see _result_document).
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "return_unexpected_index_query": False,
    "partial_unexpected_count": 0,
}


@dataclass
class EntityValidation:
    entity: str
    accepted: pa.Table
    rejects: list[Reject]
    rejected_row_count: int
    critical_failures: list[str]
    document: dict[str, Any] = field(repr=False)

    @property
    def critical_passed(self) -> bool:
        return not self.critical_failures


def suite_parameters(extract_date: date) -> dict[str, datetime]:
    start = datetime.combine(extract_date, time(), tzinfo=BANGKOK)
    end = start + timedelta(days=1)
    return {"earliest": EARLIEST_DATE, "extract_date": start, "extract_day_end": end}


def reject_rate_exceeded(read: int, rejected: int, filtered: int, threshold: float) -> bool:
    """True when rejected / (read - filtered) exceeds `threshold` (filtered rows don't count)."""
    considered = read - filtered
    if considered <= 0:
        return False
    return rejected / considered > threshold


def validate_entity(
    entity: str,
    table: pa.Table,
    extract_date: date,
    source_field: SourceField | None = None,
    row_location: RowLocation = line_location,
) -> EntityValidation:
    entity_suite = suite_for(entity)
    results = _outcomes(entity_suite, table, extract_date)

    failures: list[tuple[Rule, np.ndarray]] = []
    outcomes: list[tuple[Rule, Any, np.ndarray]] = []
    critical: list[str] = []
    for outcome in results:
        rule = entity_suite.rules[outcome.expectation_config.meta["rule"]]
        rows = np.asarray(outcome.result.get("unexpected_index_list") or [], dtype=np.int64)
        outcomes.append((rule, outcome, rows))
        raised = bool(outcome.exception_info and outcome.exception_info.get("raised_exception"))
        if rule.severity == "critical" or raised:
            if not outcome.success:
                critical.append(_describe_critical(rule, raised))
        elif len(rows):
            failures.append((rule, rows))

    rejected = np.zeros(table.num_rows, dtype=bool)
    for _, rows in failures:
        rejected[rows] = True
    rejects = _row_rejects(entity, table, failures, extract_date, source_field, row_location)
    accepted = table.filter(pa.array(~rejected)) if rejected.any() else table
    document = _result_document(
        entity_suite, table, extract_date, outcomes, critical, int(rejected.sum())
    )
    return EntityValidation(entity, accepted, rejects, int(rejected.sum()), critical, document)


# GE's outcomes on a zero-row table, per (entity, column names and types). With no row there
# is no value to compare, so what GE answers (every map rule passes with zero counts, the
# column-set rule judges the columns) depends on the columns alone, never on the extract date:
# an empty entity (none sent, or every row filtered by consent) costs GE once per process, not
# once per batch. GE's planning of a validation is about 0.25 s per entity whatever the rows,
# which made an empty extract cost about 3 s. The outcomes are GE's own, shared read-only.
_EMPTY_OUTCOMES: dict[tuple[str, tuple[tuple[str, str], ...]], list[Any]] = {}


def _outcomes(entity_suite: EntitySuite, table: pa.Table, extract_date: date) -> list[Any]:
    """GE's results for every rule of the suite, in rule order."""
    if table.num_rows:
        return _run_suite(entity_suite, table, extract_date)
    key = (entity_suite.entity, tuple((f.name, str(f.type)) for f in table.schema))
    cached = _EMPTY_OUTCOMES.get(key)
    if cached is None:
        cached = _EMPTY_OUTCOMES[key] = _run_suite(entity_suite, table, extract_date)
    return cached


def _run_suite(entity_suite: EntitySuite, table: pa.Table, extract_date: date) -> list[Any]:
    parameters = suite_parameters(extract_date)
    frame = _frame_for_gx(table)
    results = []
    for part in entity_suite.parts:
        # A missing column is the critical column-set rule's finding, not a KeyError here.
        part_frame = (
            frame
            if part.frame_columns is None
            else frame[[name for name in part.frame_columns if name in frame.columns]]
        )
        results.extend(
            batch_for(part_frame)
            .validate(part.suite, result_format=RESULT_FORMAT, expectation_parameters=parameters)
            .results
        )
    results.sort(key=lambda outcome: outcome.expectation_config.meta["rule"])
    return results


def _frame_for_gx(table: pa.Table) -> pd.DataFrame:
    """The pandas frame GE checks, shaped so that every check stays vectorised.

    - dates and timestamps become zoned millisecond timestamps: GE compares a column to its
      bounds vectorised only for float/int, nanosecond or zoned columns, and nanoseconds
      cannot hold a Buddhist-era year like 2569 that must be reported, not overflow;
    - vital_code is dictionary-encoded, so the per-vital row conditions filter fast;
    - strings stay Arrow-backed (pandas' default `str` dtype), numbers plain numpy.
    """
    columns = []
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_date(column.type) or pa.types.is_timestamp(column.type):
            naive = column.cast(pa.timestamp("ms"))
            column = pc.assume_timezone(naive, "Asia/Bangkok")
        elif name == "vital_code":
            column = column.dictionary_encode()
        columns.append(column)
    return pa.table(columns, names=table.column_names).to_pandas()


def _describe_critical(rule: Rule, raised: bool) -> str:
    where = f" on {rule.column}" if rule.column else ""
    what = "could not be evaluated" if raised else "failed"
    return f"{rule.expectation_type}{where} {what}"


def _row_rejects(
    entity: str,
    table: pa.Table,
    failures: Sequence[tuple[Rule, np.ndarray]],
    extract_date: date,
    source_field: SourceField | None,
    row_location: RowLocation,
) -> list[Reject]:
    if not failures:
        return []
    positions = np.unique(np.concatenate([rows for _, rows in failures]))
    subset = table.take(pa.array(positions))
    slot = {int(p): i for i, p in enumerate(positions)}
    files = subset.column("source_file").to_pylist()
    lines = subset.column("source_line").to_pylist()
    keys = subset.column("record_key").to_pylist()
    hashes = reject_hashes(entity, table, pa.array(positions))
    names = _FieldNames(source_field)

    seen: set[tuple[int, str]] = set()
    rejects: list[tuple[int, Reject]] = []
    # "could not be read" says more than the "missing" that follows from it: report it first.
    ordered = sorted(failures, key=lambda failure: failure[0].kind != "invalid_fields")
    for rule, rows in ordered:
        details = _failure_details(rule, subset, rows, slot, extract_date)
        for position, detail in zip(rows.tolist(), details, strict=True):
            i = slot[position]
            for failed_column, sentence in detail:
                if (position, failed_column) in seen:
                    continue  # one reject per failing field of a row
                seen.add((position, failed_column))
                shown, display = names(files[i], failed_column)
                rejects.append(
                    (
                        position,
                        Reject(
                            entity=entity,
                            location=row_location(files[i], lines[i], keys[i]),
                            field=shown,
                            rule=rule.expectation_type,
                            reason=f"{display} {sentence}",
                            row_hash=hashes[i],
                        ),
                    )
                )
    rejects.sort(key=lambda item: item[0])
    return [reject for _, reject in rejects]


def _failure_details(
    rule: Rule, subset: pa.Table, rows: np.ndarray, slot: dict[int, int], extract_date: date
) -> list[list[tuple[str, str]]]:
    """Per failing row: (column, sentence) pairs. Sentences name rules, never values."""
    column = rule.column or ""
    if rule.kind == "invalid_fields":
        listed = subset.column("invalid_fields").to_pylist()
        known = set(subset.column_names)
        details = []
        for position in rows.tolist():
            names = [n.strip() for n in (listed[slot[position]] or "").split(",") if n.strip()]
            readable = [n for n in names if n in known] or ["invalid_fields"]
            details.append([(n, "could not be read from the source") for n in readable])
        return details
    if rule.kind in ("date_range", "timestamp_range"):
        values = subset.column(column).to_pylist()
        details = []
        for position in rows.tolist():
            value = values[slot[position]]
            too_early = value is not None and value.year < 1900
            sentence = (
                "is before 1900-01-01"
                if too_early
                else f"is after the extract date {extract_date.isoformat()}"
            )
            details.append([(column, sentence)])
        return details
    sentence = _SENTENCES[rule.kind](rule)
    return [[(column, sentence)] for _ in range(len(rows))]


_SENTENCES: dict[str, Callable[[Rule], str]] = {
    "not_null": lambda rule: "is missing (required)",
    "unique": lambda rule: "is duplicated within the batch (record key must be unique)",
    "regex": lambda rule: f"is not a well-formed {rule.label} (pattern {rule.params['regex']})",
    "in_set": lambda rule: f"is not one of {', '.join(rule.params['value_set'])}",
    "national_id": lambda rule: "is not a valid Thai national ID (13 digits, check digit)",
    "vital_range": lambda rule: (
        f"is outside the plausible range for {rule.label} "
        f"({rule.params['min_value']} to {rule.params['max_value']})"
    ),
}


class _FieldNames:
    """The source's own name for a canonical column, cached per (file, column)."""

    def __init__(self, source_field: SourceField | None) -> None:
        self._source_field = source_field
        self._cache: dict[tuple[str, str], tuple[str, str]] = {}

    def __call__(self, source_file: str, column: str) -> tuple[str, str]:
        key = (source_file, column)
        if key not in self._cache:
            source_name = None
            if self._source_field is not None:
                try:
                    source_name = self._source_field(source_file, column)
                except (KeyError, ValueError, LookupError):
                    source_name = None  # derived columns (record_key...) have no source field
            if source_name and source_name != column:
                self._cache[key] = (source_name, f"{source_name} ({column})")
            else:
                self._cache[key] = (column, column)
        return self._cache[key]


def _result_document(
    entity_suite: EntitySuite,
    table: pa.Table,
    extract_date: date,
    outcomes: Sequence[tuple[Rule, Any, np.ndarray]],
    critical: list[str],
    rejected_row_count: int,
) -> dict[str, Any]:
    """GE's results with every data value removed: rule parameters, counts and row locations."""
    files = table.column("source_file") if "source_file" in table.column_names else None
    lines = table.column("source_line") if "source_line" in table.column_names else None
    results = []
    for rule, outcome, rows in outcomes:
        located: list[list[Any]] = []
        if len(rows) and files is not None and lines is not None:
            index = pa.array(rows)
            located = [
                [f, ln]
                for f, ln in zip(
                    files.take(index).to_pylist(), lines.take(index).to_pylist(), strict=True
                )
            ]
        raw = outcome.result or {}
        results.append(
            {
                "expectation_type": rule.expectation_type,
                "severity": rule.severity,
                "column": rule.column,
                "kwargs": _jsonable(dict(rule.params)),
                "success": bool(outcome.success),
                "element_count": _int_or_none(raw.get("element_count")),
                "missing_count": _int_or_none(raw.get("missing_count")),
                "unexpected_count": _int_or_none(raw.get("unexpected_count")),
                "unexpected_rows": located,  # [source_file, source_line] pairs, no values
                "raised_exception": bool(
                    outcome.exception_info and outcome.exception_info.get("raised_exception")
                ),
            }
        )
    return {
        "entity": entity_suite.entity,
        "suite": entity_suite.name,
        "extract_date": extract_date.isoformat(),
        "row_count": table.num_rows,
        "rejected_row_count": rejected_row_count,
        "critical_passed": not critical,
        "critical_failures": list(critical),
        "results": results,
    }


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value
