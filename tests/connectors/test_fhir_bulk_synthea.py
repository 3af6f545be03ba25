"""The FHIR bulk connector on the Synthea sample (../shared/data/fhir-bulk-10, SOURCE.md): no
manifest, no meta.lastUpdated, US identifiers replaced by synthetic Thai IDs in a copy."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import orjson
import pytest
from stdnum.th import pin

from connectors.base import Connector, ExtractError
from connectors.registry import build_connector
from synthetic.fhir_hospital import (
    FHIR_SAMPLE,
    SAMPLE_CODE_SYSTEMS,
    THAI_ID_SYSTEM,
    thai_export_copy,
)
from tests.support.machine import START

HOSPITAL = "10999"
# SOURCE.md's counts; AllergyIntolerance: only the medication ones are drug allergies.
EXPECTED_ROWS = {
    "patient": 13,
    "encounter": 1215,
    "diagnosis": 555,
    "medication_dispense": 1745,
    "procedure": 2056,
    "immunization": 161,
    "allergy": 2,
    "vital_sign": 0,
    "lab_result": 0,
    "imaging_report": 0,
}


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fhir")
    thai_export_copy(FHIR_SAMPLE, root / START.isoformat())
    return root


def _connector(path: Path, **extra: object) -> Connector:
    return build_connector(
        {
            "kind": "fhir_bulk",
            "path": str(path),
            "national_id_system": THAI_ID_SYSTEM,
            "code_systems": SAMPLE_CODE_SYSTEMS,
            **extra,
        }
    )


def test_every_resource_of_the_sample_becomes_a_contract_row(exports: Path) -> None:
    connector = _connector(exports)
    extract = connector.read(HOSPITAL, None, START)
    assert {e: t.num_rows for e, t in extract.tables.items()} == EXPECTED_ROWS
    assert extract.rejected == []
    assert extract.window is None  # a day folder is the day's extract
    medication_allergies = sum(
        b'"medication"' in line
        for line in (FHIR_SAMPLE / "AllergyIntolerance.000.ndjson").read_bytes().splitlines()
    )
    assert EXPECTED_ROWS["allergy"] == medication_allergies


def test_national_ids_come_from_the_named_system_and_follow_the_patient(exports: Path) -> None:
    extract = _connector(exports).read(HOSPITAL, None, START)
    patients = extract.tables["patient"].to_pylist()
    cid_of = {p["pid"]: p["cid"] for p in patients}
    assert all(pin.is_valid(cid) for cid in cid_of.values())
    for entity in ("encounter", "diagnosis", "medication_dispense", "procedure", "allergy"):
        for row in extract.tables[entity].select(["pid", "cid"]).to_pylist():
            assert row["cid"] == cid_of[row["pid"]]
    # The YAML naming another system gives no national ID at all (never a US one guessed).
    us = _connector(exports, national_id_system="urn:example:none").read(HOSPITAL, None, START)
    assert set(us.tables["patient"].column("cid").to_pylist()) == {None}


def test_lineage_keys_and_visits(exports: Path) -> None:
    extract = _connector(exports).read(HOSPITAL, None, START)
    for entity, table in extract.tables.items():
        keys = table.column("record_key").to_pylist()
        assert len(keys) == len(set(keys)), entity
        assert set(table.column("batch_id").to_pylist()) <= {extract.batch_id}
    diagnosis = extract.tables["diagnosis"].to_pylist()[0]
    assert diagnosis["source_file"] == "Condition.000.ndjson"
    assert diagnosis["source_line"] == 1
    assert diagnosis["record_key"].startswith("Condition|")
    assert diagnosis["recorded_at"] is None  # the sample has no meta.lastUpdated
    classes = Counter(extract.tables["encounter"].column("encounter_class").to_pylist())
    assert set(classes) == {"OPD", "IPD"} and classes["IPD"] > 0
    # Clinical rows carry their visit's class and date.
    visits = {
        e["encounter_id"]: (e["encounter_class"], e["service_date"])
        for e in extract.tables["encounter"].to_pylist()
    }
    for row in extract.tables["procedure"].to_pylist():
        assert (row["encounter_class"], row["service_date"]) == visits[row["encounter_id"]]


def test_same_bytes_same_batch_and_a_changed_file_a_new_one(exports: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(exports, copy)
    first = _connector(copy).read(HOSPITAL, None, START)
    again = _connector(copy).read(HOSPITAL, None, START)
    assert first.batch_id == again.batch_id
    assert [f.name for f in first.files] == [
        f"{t}.000.ndjson"
        for t in (
            "AllergyIntolerance",
            "Condition",
            "Encounter",
            "Immunization",
            "MedicationRequest",
            "Patient",
            "Procedure",
        )
    ]
    condition = copy / START.isoformat() / "Condition.000.ndjson"
    condition.write_bytes(condition.read_bytes() + b"\n")
    assert _connector(copy).read(HOSPITAL, None, START).batch_id != first.batch_id


def test_unreadable_lines_and_resources_are_rejects_naming_where(
    exports: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(exports, copy)
    day = copy / START.isoformat()
    conditions = (day / "Condition.000.ndjson").read_bytes().splitlines()
    secret = b"1234567890123"
    broken = orjson.loads(conditions[1])
    broken["subject"] = {"reference": "Patient/unknown"}
    lines = [conditions[0][:40] + secret, orjson.dumps(broken)]
    (day / "Condition.000.ndjson").write_bytes(b"\n".join(lines + conditions[2:]) + b"\n")
    encounters = (day / "Encounter.000.ndjson").read_bytes().splitlines()
    wrong_shape = orjson.loads(encounters[0])
    wrong_shape["period"] = "yesterday"  # a string where FHIR has a Period
    encounters[0] = orjson.dumps(wrong_shape)
    (day / "Encounter.000.ndjson").write_bytes(b"\n".join(encounters) + b"\n")
    extract = _connector(copy).read(HOSPITAL, None, START)
    assert extract.tables["diagnosis"].num_rows == EXPECTED_ROWS["diagnosis"] - 2
    assert extract.tables["encounter"].num_rows == EXPECTED_ROWS["encounter"] - 1
    by_rule = {r.rule: r for r in extract.rejected}
    assert set(by_rule) == {"line_readable", "reference_resolvable", "resource_readable"}
    line = by_rule["line_readable"]
    assert (line.entity, line.location.source, line.location.line) == (
        "diagnosis",
        "Condition.000.ndjson",
        1,
    )
    unresolved = by_rule["reference_resolvable"]
    assert (unresolved.location.source, unresolved.location.key) == ("Condition", broken["id"])
    assert unresolved.field == "Condition.subject"
    shape = by_rule["resource_readable"]
    assert (shape.entity, shape.location.source, shape.location.key) == (
        "encounter",
        "Encounter",
        wrong_shape["id"],
    )
    for reject in extract.rejected:
        assert "unknown" not in reject.reason and secret.decode() not in reject.reason
        assert "yesterday" not in reject.reason


def test_missing_folder_and_listed_file_quarantine(exports: Path, tmp_path: Path) -> None:
    with pytest.raises(ExtractError) as missing:
        _connector(tmp_path).read(HOSPITAL, None, START)
    assert missing.value.reason_code == "missing_file"
    copy = tmp_path / "copy" / START.isoformat()
    shutil.copytree(exports / START.isoformat(), copy)
    (copy / "manifest.json").write_bytes(
        orjson.dumps(
            {
                "transactionTime": "2026-11-23T10:00:00Z",
                "output": [{"type": "Patient", "url": "https://x.example/files/Gone.ndjson"}],
            }
        )
    )
    with pytest.raises(ExtractError) as listed:
        _connector(copy.parent).read(HOSPITAL, None, START)
    assert (listed.value.reason_code, listed.value.source_file) == ("missing_file", "Gone.ndjson")
    assert [f.name for f in listed.value.files or []] == ["manifest.json"]


def test_settings_refuse_what_cannot_work() -> None:
    base = {"kind": "fhir_bulk", "path": "x", "national_id_system": THAI_ID_SYSTEM}
    server = {
        "base_url": "https://fhir.example.th/r4",
        "token_url": "https://fhir.example.th/token",
        "credentials": "HOSP_10999",
    }
    for bad in (
        {"national_id_system": ""},
        {"layout": "single", "server": server},  # downloads need day folders
        {"code_systems": {"diagnoses": ["x"]}},
        {"server": {**server, "client_secret": "in-yaml"}},  # credentials never in the YAML
        {"overlap_days": -1},
    ):
        with pytest.raises(ValueError):
            build_connector({**base, **bad})


def test_codes_of_undeclared_systems_are_rejects_never_passed_on(exports: Path) -> None:
    """RxNorm 314076 has the shape of a TMT code and CVX 140 of a MOPH vaccine code: with
    the default (Thai) systems they are refused, not loaded as what they are not."""
    extract = _connector(exports, code_systems={}).read(HOSPITAL, None, START)
    coded = ("diagnosis", "medication_dispense", "procedure", "immunization", "allergy")
    for entity in coded:
        assert extract.tables[entity].num_rows == 0, entity
    refused = Counter((r.entity, r.field, r.rule) for r in extract.rejected)
    assert refused == {
        ("diagnosis", "Condition.code", "code_system_declared"): EXPECTED_ROWS["diagnosis"],
        (
            "medication_dispense",
            "MedicationRequest.medicationCodeableConcept",
            "code_system_declared",
        ): EXPECTED_ROWS["medication_dispense"],
        ("procedure", "Procedure.code", "code_system_declared"): EXPECTED_ROWS["procedure"],
        ("immunization", "Immunization.vaccineCode", "code_system_declared"): (
            EXPECTED_ROWS["immunization"]
        ),
        ("allergy", "AllergyIntolerance.code", "code_system_declared"): EXPECTED_ROWS["allergy"],
    }
    assert all(r.location.source != r.location.key for r in extract.rejected)
    assert extract.tables["encounter"].num_rows == EXPECTED_ROWS["encounter"]
