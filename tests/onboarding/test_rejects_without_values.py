"""The rows a first ingest would reject, by file, rule and line, and the codes the reference
seeds do not know; never a value of a row, in the tables or in the JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from expectations.national_id import is_valid_thai_national_id
from tests.support.onboarding import Folder, Onboarding, healthlink

# Planted in bad rows; none may come back in any output.
BAD_CID = "3141592653589"
FIRST_NAME = "Zebulonquix"
LAST_NAME = "Xylophanta"
COMPLAINT = "Quizzicalpain"
BAD_DRUG = "SECRETDRUG42"
# Well-formed ICD-10-TM shapes in no reference seed (one per row: a visit's diagnoses are
# keyed by code, so one code twice in a visit would be a duplicate).
UNKNOWN_ICD = ("U997", "U998", "U999")


@pytest.fixture
def planted(onboarding: Onboarding, copy_of) -> tuple[Path, dict[str, int], list[int]]:
    code = onboarding.code_where(encoding="utf-8", header=True, date_era="gregorian")
    folder = copy_of(code)
    _, before = check(folder)
    spoiled = {
        line for r in before["rejects"] if r["file"] == "DIAGNOSIS_OPD.txt" for line in r["lines"]
    }
    unknown_lines = [n for n in range(2, 40) if n not in spoiled][:3]

    edit = Folder(folder)
    for line, unknown in zip(unknown_lines, UNKNOWN_ICD, strict=True):
        edit.set_field("DIAGNOSIS_OPD", [line], "DIAGCODE", unknown)
    person = edit.append("PERSON", CID=BAD_CID, NAME=FIRST_NAME, LNAME=LAST_NAME, PID="P-PLANT")
    drug = edit.append("DRUG_OPD", DIDSTD=BAD_DRUG, SEQ="SEQ-PLANT")
    service_lines = edit.lines("SERVICE")
    short = list(service_lines[1])
    short[service_lines[0].index("CHIEFCOMP")] = COMPLAINT
    edit.write("SERVICE", [*service_lines, short[:-1]])
    lines = {"PERSON": person, "DRUG_OPD": drug, "SERVICE": len(service_lines) + 1}
    return folder, lines, unknown_lines


def check(folder: Path, *options: str) -> tuple[int, dict]:
    code, output = healthlink("extract", "check", str(folder), *options, "--json")
    return code, json.loads(output)


def test_planted_values_are_invalid_where_they_must_be() -> None:
    assert not is_valid_thai_national_id(BAD_CID)


def test_each_bad_row_is_reported_by_file_rule_and_line(planted) -> None:
    folder, lines, _ = planted

    _, report = check(folder)

    found = {(r["file"], r["rule"], r["field"]): r["lines"] for r in report["rejects"]}
    assert lines["PERSON"] in found[("PERSON.txt", "national_id_readable", "CID")]
    assert lines["SERVICE"] in found[("SERVICE.txt", "line_readable", "CID")]
    assert (
        lines["DRUG_OPD"]
        in found[("DRUG_OPD.txt", "expect_column_values_to_match_regex", "DIDSTD")]
    )
    service = next(f for f in report["files"] if f["file"] == "SERVICE.txt")
    assert lines["SERVICE"] in service["field_count_anomaly_lines"]


def test_unknown_codes_are_counted_and_named(planted) -> None:
    folder, _, unknown_lines = planted

    _, report = check(folder)

    icd = next(c for c in report["coverage"] if c["reference"] == "icd10_tm")
    for unknown in UNKNOWN_ICD:
        assert {"code": unknown, "rows": 1} in icd["top_unknown"]
    assert icd["known_rows"] == icd["coded_rows"] - len(unknown_lines)
    assert icd["share_known"] < 1


@pytest.mark.parametrize("mode", ["table", "json"])
def test_no_row_value_reaches_the_output(planted, mode: str) -> None:
    folder, _, _ = planted
    options = ["--json"] if mode == "json" else []

    _, output = healthlink("extract", "check", str(folder), *options)

    for value in (BAD_CID, FIRST_NAME, LAST_NAME, COMPLAINT, BAD_DRUG):
        assert value not in output
    assert UNKNOWN_ICD[0] in output  # reference codes are not personal data: they are shown
    person = Folder(folder).lines("PERSON")
    header = person[0]
    for row in person[1:]:
        assert not re.search(rf"\b{re.escape(row[header.index('CID')])}\b", output)
        for field in ("NAME", "LNAME", "HN"):
            if len(row[header.index(field)]) > 3:
                assert row[header.index(field)] not in output
