"""GE's context and suites are built once per process, and an empty entity reaches GE once.

The counts are `expectations.gx_context.BUILT` (incremented where our code constructs a
context, a batch definition, a suite, or asks GE for a batch to validate) and GE's own suite
registry; nothing is mocked.
"""

from __future__ import annotations

from collections import Counter
from datetime import date

import pyarrow as pa

import expectations.validate as validate
from connectors.contract import ENTITIES
from expectations.gx_context import BUILT, context
from expectations.suites import suite_for
from expectations.validate import validate_entity
from tests.support.entity_tables import EXTRACT_DATE, make_row, make_table, validated_schema

OTHER_DATE = date(2027, 1, 15)


def _without_date(document: dict) -> dict:
    return {k: v for k, v in document.items() if k != "extract_date"}


def test_suites_are_built_once_and_reused() -> None:
    for entity in ENTITIES:
        suite_for(entity)
    built = Counter(BUILT)
    suites = sorted(s.name for s in context().suites.all())
    first = [
        validate_entity(e, make_table(e, [make_row(e, 2)]), EXTRACT_DATE).document for e in ENTITIES
    ]
    second = [
        validate_entity(e, make_table(e, [make_row(e, 2)]), EXTRACT_DATE).document for e in ENTITIES
    ]
    assert second == first
    assert BUILT["context"] == 1
    assert BUILT["batch_definition"] == 1
    assert BUILT["suite"] == built["suite"] == len(suites)
    assert sorted(s.name for s in context().suites.all()) == suites
    # Every non-empty validation still goes through GE: one batch per suite part.
    parts = sum(len(suite_for(e).parts) for e in ENTITIES)
    assert BUILT["batch"] == built["batch"] + 2 * parts


def test_an_empty_entity_is_judged_as_ge_judges_it_once_per_process(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(validate, "_EMPTY_OUTCOMES", {})
    for entity in ENTITIES:
        empty = validated_schema(entity).empty_table()
        before = BUILT["batch"]
        fresh = validate_entity(entity, empty, EXTRACT_DATE)
        assert BUILT["batch"] == before + len(suite_for(entity).parts)  # GE ran
        again = validate_entity(entity, empty, OTHER_DATE)
        assert BUILT["batch"] == before + len(suite_for(entity).parts)  # GE did not run
        assert again.document["extract_date"] == OTHER_DATE.isoformat()
        assert _without_date(again.document) == _without_date(fresh.document)
        assert fresh.document["row_count"] == 0 and fresh.critical_passed
        assert fresh.accepted.num_rows == 0 and not fresh.rejects

        # GE's own answer on another day is the same: the extract date plays no part.
        monkeypatch.setattr(validate, "_EMPTY_OUTCOMES", {})
        other_day = validate_entity(entity, empty, OTHER_DATE)
        assert other_day.document == again.document


def test_an_empty_table_without_a_column_still_fails_its_critical_check() -> None:
    schema = validated_schema("lab_result")
    complete = validate_entity("lab_result", schema.empty_table(), EXTRACT_DATE)
    assert complete.critical_passed
    missing = pa.schema([f for f in schema if f.name != "lab_code"]).empty_table()
    result = validate_entity("lab_result", missing, EXTRACT_DATE)
    assert not result.critical_passed
    assert any("expect_table_columns_to_match_set" in f for f in result.critical_failures)
