"""FHIR R4 JSON from a patient's record (the same gated read as the record endpoint).

Identifier and code systems are listed in docs/api.md. Naive warehouse timestamps are
Bangkok wall-clock time, so they are written with +07:00.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from connectors.fhir_bulk.code_systems import SYSTEM_URIS
from warehouse.api.records import HospitalSection, PatientRecordData

TH_CID = "https://terms.sil-th.org/id/th-cid"
TH_HCODE = "https://terms.sil-th.org/id/th-moph-hcode"
TH_RECORD = "https://healthlink.example/id/source-record"  # hospital code + "|" + record key
ICD10_TM = "https://terms.sil-th.org/core/CodeSystem/icd-10-tm"
TMT_24 = "https://terms.sil-th.org/core/CodeSystem/th-drug-24-digit"
MOPH_VACCINE = "https://terms.sil-th.org/core/CodeSystem/moph-vaccine"
ICD9_CM = "http://hl7.org/fhir/sid/icd-9-cm"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
SENSITIVITY = "https://healthlink.example/CodeSystem/sensitivity"

Row = dict[str, Any]
Mapper = Callable[[HospitalSection, Row, dict[str, str], str | None], dict[str, Any]]

# LOINC codes of the vital signs profile (https://hl7.org/fhir/R4/observation-vitalsigns.html).
VITAL_LOINC = {
    "systolic_bp": ("8480-6", "Systolic blood pressure"),
    "diastolic_bp": ("8462-4", "Diastolic blood pressure"),
    "pulse_rate": ("8867-4", "Heart rate"),
    "respiratory_rate": ("9279-1", "Respiratory rate"),
    "body_temperature": ("8310-5", "Body temperature"),
    "body_weight": ("29463-7", "Body weight"),
    "body_height": ("8302-2", "Body height"),
    "bmi": ("39156-5", "Body mass index"),
    "waist_circumference": ("8280-0", "Waist circumference"),
    "blood_glucose": ("2339-0", "Glucose [Mass/volume] in Blood"),
}


def resource_id(hospital_code: str, record_key: str) -> str:
    return hashlib.sha256(f"{hospital_code}|{record_key}".encode()).hexdigest()[:40]


def fhir_datetime(value: datetime | date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        stamp = value.replace(microsecond=0).isoformat()
        return stamp if value.tzinfo is not None else stamp + "+07:00"
    return value.isoformat()


def _system(row: Row, native: str | None) -> str | None:
    """The system of a row's code: `native`, unless the hospital sent it in another system
    (contract code_system, published as source_code_system); a `local` code has no URI."""
    name = row.get("source_code_system")
    return native if name is None else SYSTEM_URIS.get(name)


def _concept(system: str | None, code: Any, display: Any) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if code:
        coding = {"system": system, "code": str(code)}
        if display:
            coding["display"] = str(display)
        concept["coding"] = [coding]
    if display:
        concept["text"] = str(display)
    return concept or {"text": "unknown"}


def _base(kind: str, hospital: HospitalSection, row: dict[str, Any]) -> dict[str, Any]:
    """id, provenance (source hospital and record) and the sensitivity tag."""
    resource: dict[str, Any] = {
        "resourceType": kind,
        "id": resource_id(hospital.hospital_code, row["record_key"]),
        "meta": {"source": f"{TH_HCODE}|{hospital.hospital_code}"},
        "identifier": [
            {"system": TH_RECORD, "value": f"{hospital.hospital_code}|{row['record_key']}"}
        ],
    }
    if row.get("is_sensitive"):
        resource["meta"]["security"] = [
            {"system": SENSITIVITY, "code": str(row.get("sensitivity_category") or "sensitive")}
        ]
    if row.get("received_at"):
        resource["meta"]["lastUpdated"] = fhir_datetime(row["received_at"])
    return resource


def patient_resource(patient: dict[str, Any], national_id: str | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient["patient_key"],
        "name": [
            {
                "family": patient.get("last_name"),
                "given": [patient["first_name"]] if patient.get("first_name") else [],
                "prefix": [patient["prename"]] if patient.get("prename") else [],
            }
        ],
    }
    if national_id:
        resource["identifier"] = [{"system": TH_CID, "value": national_id}]
    if patient.get("sex") in ("male", "female"):
        resource["gender"] = patient["sex"]
    if patient.get("birth_date"):
        resource["birthDate"] = patient["birth_date"].isoformat()
    return resource


def _subject(patient_key: str) -> dict[str, str]:
    return {"reference": f"Patient/{patient_key}"}


def _quantity(value: Any, unit: Any) -> dict[str, Any]:
    quantity: dict[str, Any] = {"value": value}
    if unit:
        quantity |= {"unit": str(unit), "system": UCUM, "code": str(unit)}
    return quantity


def _observation(
    h: HospitalSection,
    row: Row,
    category: str,
    code: dict[str, Any],
    subject: dict[str, str],
    when: str | None,
) -> dict[str, Any]:
    return _base("Observation", h, row) | {
        "status": "final",
        "category": [{"coding": [{"system": OBS_CATEGORY, "code": category}]}],
        "code": code,
        "subject": subject,
        "effectiveDateTime": when,
    }


# One function per resource type: (hospital section, row, subject reference, the row's
# recorded_at as FHIR dateTime) -> the resource. MAPPERS below dispatches on the category.
def _encounter(h: HospitalSection, row: Row, subject: dict[str, str], when: str | None) -> Row:
    r = _base("Encounter", h, row) | {
        "status": "finished",
        "class": {
            "system": ACT_CODE,
            "code": "IMP" if row["encounter_class"] == "IPD" else "AMB",
        },
        "subject": subject,
        "serviceProvider": {
            "identifier": {"system": TH_HCODE, "value": h.hospital_code},
            "display": h.hospital_name,
        },
    }
    start = fhir_datetime(row.get("start_at")) or fhir_datetime(row.get("service_date"))
    r["period"] = {"start": start} | (
        {"end": fhir_datetime(row["end_at"])} if row.get("end_at") else {}
    )
    if row.get("chief_complaint"):
        r["reasonCode"] = [{"text": row["chief_complaint"]}]
    return r


def _condition(h: HospitalSection, row: Row, subject: dict[str, str], when: str | None) -> Row:
    return _base("Condition", h, row) | {
        "category": [{"coding": [{"system": CONDITION_CATEGORY, "code": "encounter-diagnosis"}]}],
        "code": _concept(
            _system(row, ICD10_TM),
            row["icd10_code"],
            row.get("diagnosis_name_th") or row.get("diagnosis_name_en"),
        ),
        "subject": subject,
        "recordedDate": when,
    }


def _allergy_intolerance(
    h: HospitalSection, row: Row, subject: dict[str, str], when: str | None
) -> Row:
    return _base("AllergyIntolerance", h, row) | {
        "category": ["medication"],
        "code": _concept(_system(row, TMT_24), row.get("drug_code"), row.get("drug_name")),
        "patient": subject,
        "recordedDate": when,
    }


def _medication_dispense(
    h: HospitalSection, row: Row, subject: dict[str, str], when: str | None
) -> Row:
    r = _base("MedicationDispense", h, row) | {
        "status": "completed",
        "medicationCodeableConcept": _concept(
            _system(row, TMT_24), row.get("drug_code"), row.get("drug_name")
        ),
        "subject": subject,
        "whenHandedOver": when,
    }
    if row.get("quantity") is not None:
        r["quantity"] = {"value": row["quantity"], "unit": row.get("unit")}
    return r


def _immunization(h: HospitalSection, row: Row, subject: dict[str, str], when: str | None) -> Row:
    return _base("Immunization", h, row) | {
        "status": "completed",
        "vaccineCode": _concept(
            _system(row, MOPH_VACCINE), row.get("vaccine_code"), row.get("vaccine_name")
        ),
        "patient": subject,
        "occurrenceDateTime": fhir_datetime(row.get("service_date")) or when,
    }


def _procedure(h: HospitalSection, row: Row, subject: dict[str, str], when: str | None) -> Row:
    return _base("Procedure", h, row) | {
        "status": "completed",
        "code": _concept(
            _system(row, ICD9_CM), row.get("procedure_code"), row.get("procedure_name")
        ),
        "subject": subject,
        "performedDateTime": fhir_datetime(row.get("service_date")) or when,
    }


def _vital_sign(h: HospitalSection, row: Row, subject: dict[str, str], when: str | None) -> Row:
    """Observation, category vital-signs, coded by the vital signs profile's LOINC codes."""
    loinc, name = VITAL_LOINC.get(row["vital_code"], (None, row["vital_code"]))
    return _observation(h, row, "vital-signs", _concept(LOINC, loinc, name), subject, when) | {
        "valueQuantity": _quantity(row.get("value"), row.get("unit"))
    }


def _lab_result(h: HospitalSection, row: Row, subject: dict[str, str], when: str | None) -> Row:
    """Observation, category laboratory: a quantity or a text, and the reference range."""
    # A native lab code is shown by its LOINC (lab_codes); another system's code as sent.
    if row.get("source_code_system") is None:
        code = _concept(LOINC, row.get("loinc_code"), row.get("lab_name"))
    else:
        code = _concept(_system(row, None), row.get("lab_code"), row.get("lab_name"))
    r = _observation(h, row, "laboratory", code, subject, when)
    if row.get("result_value") is not None:
        r["valueQuantity"] = _quantity(row["result_value"], row.get("unit"))
    elif row.get("result_text"):
        r["valueString"] = row["result_text"]
    if row.get("reference_low") is not None or row.get("reference_high") is not None:
        r["referenceRange"] = [
            {
                k: _quantity(row[c], row.get("unit"))
                for k, c in (("low", "reference_low"), ("high", "reference_high"))
                if row.get(c) is not None
            }
        ]
    return r


def _imaging_report(h: HospitalSection, row: Row, subject: dict[str, str], when: str | None) -> Row:
    """DiagnosticReport, category radiology, named by modality and body site."""
    return _base("DiagnosticReport", h, row) | {
        "status": "final",
        "category": [{"coding": [{"system": LOINC, "code": "LP29684-5", "display": "Radiology"}]}],
        "code": _concept(
            None,
            None,
            " ".join(filter(None, [row.get("modality"), row.get("body_site")]))
            or row.get("study_code"),
        ),
        "subject": subject,
        "effectiveDateTime": when,
        "conclusion": row.get("conclusion"),
    }


# Record category (warehouse.api.records.CATEGORIES) -> its resource. The `sensitive`
# category only lists rows of the others, so it maps to nothing.
MAPPERS: dict[str, Mapper] = {
    "encounters": _encounter,
    "diagnoses": _condition,
    "allergies": _allergy_intolerance,
    "medication_dispenses": _medication_dispense,
    "immunizations": _immunization,
    "procedures": _procedure,
    "vital_signs": _vital_sign,
    "lab_results": _lab_result,
    "imaging_reports": _imaging_report,
}


def everything_bundle(record: PatientRecordData, national_id: str | None) -> dict[str, Any]:
    """A searchset Bundle: the Patient, then every shown row as its resource."""
    subject = _subject(record.patient["patient_key"])
    resources = [patient_resource(record.patient, national_id)]
    for hospital in record.hospitals:
        if hospital.withheld:
            continue
        for category, rows in hospital.categories.items():
            mapper = MAPPERS.get(category)
            if mapper is None:
                continue
            resources.extend(
                mapper(hospital, row, subject, fhir_datetime(row.get("recorded_at")))
                for row in rows
            )
    return _bundle(resources)


def _bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {
                "fullUrl": f"{r['resourceType']}/{r['id']}",
                "resource": _drop_none(r),
                "search": {"mode": "match" if r["resourceType"] == "Patient" else "include"},
            }
            for r in resources
        ],
    }


def search_bundle(patients: list[dict[str, Any]], national_id: str) -> dict[str, Any]:
    return _bundle([patient_resource(p, national_id) for p in patients])


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value
