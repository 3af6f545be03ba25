from __future__ import annotations

import json
from datetime import date, datetime

import pyarrow as pa
import pytest

from connectors.contract import ENTITIES
from expectations.validate import reject_rate_exceeded, validate_entity
from tests.support.entity_tables import (
    EXTRACT_DATE,
    VALID_CID,
    make_row,
    make_table,
    synthetic_table,
)

SOURCE_NAMES = {
    "service_date": "DATE_SERV",
    "value": "BTEMP",
    "lab_code": "LABTEST",
    "cid": "CID",
    "birth_date": "BIRTH",
    "sex": "SEX",
}


def source_field(source_file: str, column: str) -> str:
    return SOURCE_NAMES[column]  # KeyError for derived columns, as a connector might


def rejects_by_line(result):  # type: ignore[no-untyped-def]
    return {(r.location.line, r.field, r.rule) for r in result.rejects}


def test_valid_rows_pass_every_entity_suite() -> None:
    for entity in ENTITIES:
        table = make_table(entity, [make_row(entity, 2), make_row(entity, 3)])
        result = validate_entity(entity, table, EXTRACT_DATE)
        assert result.critical_passed, (entity, result.critical_failures)
        assert result.rejects == [] and result.rejected_row_count == 0, entity
        assert result.accepted.equals(table)


def test_future_date_and_buddhist_era_year_are_rejected_with_field_and_line() -> None:
    table = make_table(
        "lab_result",
        [
            make_row("lab_result", 2),
            make_row("lab_result", 3, service_date=date(2026, 11, 25)),
            make_row("lab_result", 4, service_date=date(2569, 11, 20)),  # year left in BE
            make_row("lab_result", 5, service_date=date(1899, 12, 31)),
            make_row("lab_result", 6, service_date=EXTRACT_DATE),
            make_row("lab_result", 7, recorded_at=datetime(2026, 11, 25, 0, 0)),
        ],
    )
    result = validate_entity("lab_result", table, EXTRACT_DATE, source_field)
    reasons = {r.location.line: r.reason for r in result.rejects}
    assert reasons == {
        3: "DATE_SERV (service_date) is after the extract date 2026-11-24",
        4: "DATE_SERV (service_date) is after the extract date 2026-11-24",
        5: "DATE_SERV (service_date) is before 1900-01-01",
        7: "recorded_at is after the extract date 2026-11-24",
    }
    assert {r.rule for r in result.rejects} == {"expect_column_values_to_be_between"}
    assert result.accepted.column("source_line").to_pylist() == [2, 6]


def test_vital_out_of_range_only_for_its_own_code() -> None:
    table = make_table(
        "vital_sign",
        [
            make_row("vital_sign", 2, value=37.0),
            make_row("vital_sign", 3, value=98.6),  # Fahrenheit slipped through
            make_row("vital_sign", 4, vital_code="systolic_bp", value=98.6),
            make_row("vital_sign", 5, vital_code="bmi", value=7.9),
            make_row("vital_sign", 6, vital_code="heart_rate", value=80.0),
        ],
    )
    result = validate_entity("vital_sign", table, EXTRACT_DATE, source_field)
    assert rejects_by_line(result) == {
        (3, "BTEMP", "expect_column_values_to_be_between"),
        (5, "BTEMP", "expect_column_values_to_be_between"),
        (6, "vital_code", "expect_column_values_to_be_in_set"),
    }
    reasons = {r.location.line: r.reason for r in result.rejects}
    assert reasons[3] == (
        "BTEMP (value) is outside the plausible range for body_temperature (30 to 45)"
    )
    assert result.accepted.column("source_line").to_pylist() == [2, 4]


def test_duplicate_record_key_rejects_every_copy() -> None:
    table = make_table(
        "diagnosis",
        [
            make_row("diagnosis", 2, record_key="A"),
            make_row("diagnosis", 3, record_key="B"),
            make_row("diagnosis", 4, record_key="A"),
        ],
    )
    result = validate_entity("diagnosis", table, EXTRACT_DATE)
    assert rejects_by_line(result) == {
        (2, "record_key", "expect_column_values_to_be_unique"),
        (4, "record_key", "expect_column_values_to_be_unique"),
    }


@pytest.mark.parametrize(
    ("entity", "overrides", "field", "rule"),
    [
        ("diagnosis", {"icd10_code": "E11.9"}, "icd10_code", "expect_column_values_to_match_regex"),
        (
            "medication_dispense",
            {"drug_code": "12345"},
            "drug_code",
            "expect_column_values_to_match_regex",
        ),
        (
            "immunization",
            {"vaccine_code": "J07"[:2]},
            "vaccine_code",
            "expect_column_values_to_match_regex",
        ),
        ("lab_result", {"lab_code": "cbc"}, "LABTEST", "expect_column_values_to_match_regex"),
        (
            "lab_result",
            {"hospital_code": "1066"},
            "hospital_code",
            "expect_column_values_to_match_regex",
        ),
        ("lab_result", {"patient_key": None}, "patient_key", "expect_column_values_to_not_be_null"),
        ("lab_result", {"lab_code": None}, "LABTEST", "expect_column_values_to_not_be_null"),
        (
            "lab_result",
            {"encounter_class": "ER"},
            "encounter_class",
            "expect_column_values_to_be_in_set",
        ),
        ("patient", {"sex": "M"}, "SEX", "expect_column_values_to_be_in_set"),
        (
            "patient",
            {"cid": VALID_CID[:-1] + str((int(VALID_CID[-1]) + 1) % 10)},
            "CID",
            "expect_column_values_to_be_valid_thai_national_id",
        ),
        (
            "patient",
            {"birth_date": date(2027, 1, 1)},
            "BIRTH",
            "expect_column_values_to_be_between",
        ),
        (
            "lab_result",
            {"invalid_fields": "service_date", "service_date": None},
            "DATE_SERV",
            "expect_column_values_to_be_null",
        ),
    ],
)
def test_each_rule_rejects_its_row(entity, overrides, field, rule) -> None:  # type: ignore[no-untyped-def]
    table = make_table(entity, [make_row(entity, 2), make_row(entity, 3, **overrides)])
    result = validate_entity(entity, table, EXTRACT_DATE, source_field)
    assert rejects_by_line(result) == {(3, field, rule)}
    assert result.rejected_row_count == 1
    assert result.accepted.column("source_line").to_pylist() == [2]
    assert result.critical_passed


def test_row_failing_several_rules_is_counted_once_with_one_reject_per_field() -> None:
    table = make_table(
        "lab_result",
        [
            make_row(
                "lab_result", 2, lab_code="bad", service_date=date(2030, 1, 1), encounter_class="X"
            ),
            make_row("lab_result", 3),
        ],
    )
    result = validate_entity("lab_result", table, EXTRACT_DATE, source_field)
    assert {r.field for r in result.rejects} == {"LABTEST", "DATE_SERV", "encounter_class"}
    assert {r.location.line for r in result.rejects} == {2}
    assert result.rejected_row_count == 1
    assert len({r.row_hash for r in result.rejects}) == 1
    assert len(result.rejects[0].row_hash) == 64


def test_wrong_extract_date_is_critical() -> None:
    table = make_table("lab_result", [make_row("lab_result", 2, extract_date=date(2026, 11, 23))])
    result = validate_entity("lab_result", table, EXTRACT_DATE)
    assert not result.critical_passed
    assert any("extract_date" in failure for failure in result.critical_failures)


def test_missing_column_is_critical() -> None:
    table = make_table("lab_result", [make_row("lab_result", 2)]).drop_columns(["lab_code"])
    result = validate_entity("lab_result", table, EXTRACT_DATE)
    assert not result.critical_passed


def test_result_document_holds_no_values() -> None:
    planted_cid = VALID_CID
    patient = make_table(
        "patient",
        [
            make_row(
                "patient",
                2,
                cid=planted_cid[:-1] + "0" if planted_cid[-1] != "0" else planted_cid[:-1] + "1",
                first_name="ประพันธ์พิเศษ",
                sex="X",
            ),
            make_row("patient", 3, cid=planted_cid, first_name="ประพันธ์พิเศษ"),
        ],
    )
    lab = make_table(
        "lab_result",
        [
            make_row("lab_result", 2, lab_code="HIV-AB-POS", result_text="REACTIVE-7731"),
            make_row("lab_result", 3, result_text="REACTIVE-7731", service_date=date(2569, 1, 1)),
        ],
    )
    for entity, table, secrets in (
        ("patient", patient, [planted_cid[:12], "ประพันธ์พิเศษ", "ใจดี"]),
        ("lab_result", lab, ["REACTIVE-7731", "HIV-AB-POS", "2569"]),
    ):
        result = validate_entity(entity, table, EXTRACT_DATE, source_field)
        assert result.rejects
        text = json.dumps(result.document, ensure_ascii=False)
        text += json.dumps([r.reason for r in result.rejects], ensure_ascii=False)
        for secret in secrets:
            assert secret not in text
        failed = [r for r in result.document["results"] if r["unexpected_count"]]
        assert failed and all(r["unexpected_rows"] for r in failed)
        assert all(row[0] == "FILE" for r in failed for row in r["unexpected_rows"])
        assert result.document["rejected_row_count"] == result.rejected_row_count


def test_synthetic_batch_with_planted_errors() -> None:
    table = synthetic_table("vital_sign", 20_000)
    values = table.column("value").to_pylist()
    planted = set(range(0, 20_000, 997))
    for i in planted:
        values[i] = 10_000.0  # out of range for every vital
    table = table.set_column(table.schema.get_field_index("value"), "value", pa.array(values))
    result = validate_entity("vital_sign", table, EXTRACT_DATE)
    assert result.rejected_row_count == len(planted)
    assert {r.location.line - 2 for r in result.rejects} == planted
    assert result.accepted.num_rows == 20_000 - len(planted)


def test_reject_rate_judgement() -> None:
    assert not reject_rate_exceeded(read=1000, rejected=50, filtered=0, threshold=0.05)
    assert reject_rate_exceeded(read=1000, rejected=51, filtered=0, threshold=0.05)
    # filtered rows are not part of the base: 40 / (1000 - 500) = 8 %
    assert reject_rate_exceeded(read=1000, rejected=40, filtered=500, threshold=0.05)
    assert not reject_rate_exceeded(read=10, rejected=0, filtered=10, threshold=0.05)
