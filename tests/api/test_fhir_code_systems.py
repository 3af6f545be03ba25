"""FHIR output names the system a hospital actually coded a row in (published
source_code_system): a SNOMED CT diagnosis is never labelled ICD-10-TM, a local code gets no
system; native rows keep the Thai systems."""

from __future__ import annotations

from datetime import date
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from warehouse.api.fhir import ICD10_TM, MOPH_VACCINE, everything_bundle
from warehouse.api.records import HospitalSection, PatientRecordData


def _diagnosis(record_key: str, code: str, system: str | None) -> dict[str, Any]:
    return {
        "hospital_code": "10997",
        "record_key": record_key,
        "icd10_code": code,
        "source_code_system": system,
        "service_date": date(2026, 11, 23),
        "is_sensitive": False,
        "sensitivity_category": None,
    }


def test_each_condition_carries_the_system_it_was_sent_in() -> None:
    section = HospitalSection("10997", "FHIR hospital", False, None, None)
    section.categories["diagnoses"] = [
        _diagnosis("Condition|c1", "E119", None),
        _diagnosis("Condition|c2", "44054006", "snomed"),
        _diagnosis("Condition|c3", "DX-0042", "local"),
    ]
    bundle = everything_bundle(PatientRecordData({"patient_key": "k" * 32}, [section]), None)
    get_fhir_model_class("Bundle").model_validate(bundle)
    codings = [
        entry["resource"]["code"]["coding"][0]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "Condition"
    ]
    assert codings == [
        {"system": ICD10_TM, "code": "E119"},
        {"system": "http://snomed.info/sct", "code": "44054006"},
        {"code": "DX-0042"},
    ]


def test_an_immunization_sent_in_cvx_is_labelled_cvx() -> None:
    section = HospitalSection("10996", "FHIR hospital", False, None, None)
    base = {"service_date": date(2026, 11, 23), "is_sensitive": False}
    section.categories["immunizations"] = [
        {
            **base,
            "record_key": "Immunization|i1",
            "vaccine_code": "010",
            "source_code_system": None,
        },
        {
            **base,
            "record_key": "Immunization|i2",
            "vaccine_code": "207",
            "source_code_system": "cvx",
        },
    ]
    bundle = everything_bundle(PatientRecordData({"patient_key": "k" * 32}, [section]), None)
    get_fhir_model_class("Bundle").model_validate(bundle)
    codings = [
        entry["resource"]["vaccineCode"]["coding"][0]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "Immunization"
    ]
    assert codings == [
        {"system": MOPH_VACCINE, "code": "010"},
        {"system": "http://hl7.org/fhir/sid/cvx", "code": "207"},
    ]
