"""A code column's pattern is its native system's shape: a row that names another system
(contract `code_system`) passes on that name, which must be one the contract knows."""

from __future__ import annotations

from expectations.validate import validate_entity
from tests.support.entity_tables import EXTRACT_DATE, make_row, make_table


def test_a_snomed_diagnosis_passes_on_its_system_and_fails_without_it() -> None:
    table = make_table(
        "diagnosis",
        [
            make_row("diagnosis", 2, icd10_code="86406008", code_system="snomed"),
            make_row("diagnosis", 3, icd10_code="86406008"),  # read as ICD-10: malformed
            make_row("diagnosis", 4, icd10_code="HX-77", code_system="local"),
            make_row("diagnosis", 5, icd10_code="86406008", code_system="sct"),  # no such name
            make_row("diagnosis", 6, icd10_code="B20", code_system=None),
        ],
    )
    result = validate_entity("diagnosis", table, EXTRACT_DATE)
    assert result.critical_passed
    assert {(r.location.line, r.field, r.rule) for r in result.rejects} == {
        (3, "icd10_code", "expect_column_values_to_match_regex"),
        (5, "code_system", "expect_column_values_to_be_in_set"),
    }


def test_an_rxnorm_drug_is_not_held_to_the_tmt_shape() -> None:
    table = make_table(
        "medication_dispense",
        [make_row("medication_dispense", 2, drug_code="1999563", code_system="rxnorm")],
    )
    assert validate_entity("medication_dispense", table, EXTRACT_DATE).rejects == []
