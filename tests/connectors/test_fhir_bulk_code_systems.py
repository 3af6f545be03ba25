"""The FHIR bulk connector says which code system each coded row's code is in
(contract `code_system`): null for the column's native Thai system, else the system's name."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from connectors.contract import CODE_SYSTEM_NAMES
from connectors.fhir_bulk.code_systems import SYSTEM_NAMES
from connectors.registry import build_connector
from synthetic.fhir_hospital import (
    FHIR_SAMPLE,
    SAMPLE_CODE_SYSTEMS,
    THAI_ID_SYSTEM,
    thai_export_copy,
)
from tests.support.fhir_bulk_samples import write_export
from tests.support.machine import START

HOSPITAL = "10999"
SNOMED = "http://snomed.info/sct"
LOCAL_URI = "https://his.hospital.example.th/diagnosis"


def test_every_name_of_the_uri_table_is_a_contract_name() -> None:
    assert set(SYSTEM_NAMES.values()) <= set(CODE_SYSTEM_NAMES)


def test_synthea_rows_name_snomed_and_rxnorm(tmp_path: Path) -> None:
    thai_export_copy(FHIR_SAMPLE, tmp_path / START.isoformat())
    connector = build_connector(
        {
            "kind": "fhir_bulk",
            "path": str(tmp_path),
            "national_id_system": THAI_ID_SYSTEM,
            "code_systems": SAMPLE_CODE_SYSTEMS,
        }
    )
    tables = connector.read(HOSPITAL, None, START).tables
    assert Counter(tables["diagnosis"].column("code_system").to_pylist()) == {"snomed": 555}
    assert set(tables["medication_dispense"].column("code_system").to_pylist()) == {"rxnorm"}
    assert set(tables["procedure"].column("code_system").to_pylist()) == {"snomed"}
    assert set(tables["allergy"].column("code_system").to_pylist()) == {"rxnorm"}


def test_native_codes_say_null_and_an_unknown_uri_is_local(tmp_path: Path) -> None:
    write_export(tmp_path / START.isoformat())
    base = {"kind": "fhir_bulk", "path": str(tmp_path), "national_id_system": THAI_ID_SYSTEM}
    native = build_connector(base).read(HOSPITAL, None, START).tables["diagnosis"]
    assert native.num_rows and set(native.column("code_system").to_pylist()) == {None}
    assert "E119" in native.column("icd10_code").to_pylist()  # ICD-10 loses its dot

    icd10 = "http://hl7.org/fhir/sid/icd-10"
    (folder,) = tmp_path.iterdir()
    for path in folder.glob("Condition*.ndjson"):
        path.write_text(path.read_text().replace(icd10, LOCAL_URI))
    rows = build_connector({**base, "code_systems": {"diagnosis": [LOCAL_URI]}}).read(
        HOSPITAL, None, START
    )
    codes = rows.tables["diagnosis"]
    assert set(codes.column("code_system").to_pylist()) == {"local"}
    assert "E11.9" in codes.column("icd10_code").to_pylist()  # a local code is kept as sent
    # A hospital that names a Thai system by its own URI declares the name.
    named = build_connector(
        {
            **base,
            "code_systems": {"diagnosis": [LOCAL_URI]},
            "code_system_names": {LOCAL_URI: "icd10"},
        }
    ).read(HOSPITAL, None, START)
    assert set(named.tables["diagnosis"].column("code_system").to_pylist()) == {None}


def test_an_unknown_code_system_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="code_system_names"):
        build_connector(
            {
                "kind": "fhir_bulk",
                "path": str(tmp_path),
                "national_id_system": THAI_ID_SYSTEM,
                "code_system_names": {SNOMED: "sct"},
            }
        )
