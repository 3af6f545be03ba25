"""Thai FHIR R4 resources for the bulk connector tests: every type the connector reads, in
the code systems the contract takes, with the cases a bulk export brings (two versions of a
resource, a deletion, a version outside the day's window, a Patient only referenced)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Final

import numpy as np
import orjson

from synthetic.fhir_hospital import THAI_ID_SYSTEM
from synthetic.patients import unique_cids

HN_SYSTEM: Final = "https://hospital.example.th/hn"
LOINC: Final = "http://loinc.org"
DAY: Final = date(2026, 11, 23)  # the extract date the samples are dated for
# In the day's window (2 days of overlap: from 2026-11-21 00:00 Bangkok = 11-20T17:00Z).
IN_WINDOW: Final = "2026-11-23T03:00:00Z"
TRANSACTION_TIME: Final = "2026-11-23T20:00:00Z"
CIDS: Final = [str(c) for c in unique_cids(np.random.default_rng(5), 2, thai_cards_only=True)]
# A patient the server holds whose history nobody asks for.
OTHER_CID: Final = str(unique_cids(np.random.default_rng(6), 1, thai_cards_only=True)[0])
OLDER: Final = "2025-06-10T03:00:00Z"  # p1's visit of last year, long before any window
Resource = dict[str, Any]


def _meta(updated: str = IN_WINDOW) -> dict[str, str]:
    return {"lastUpdated": updated}


def _concept(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    coding = {"system": system, "code": code, **({"display": display} if display else {})}
    return {"coding": [coding]}


def _patient(resource_id: str, cid: str, updated: str) -> Resource:
    return {
        "resourceType": "Patient",
        "id": resource_id,
        "meta": _meta(updated),
        "identifier": [
            {"system": THAI_ID_SYSTEM, "value": cid},
            {"system": HN_SYSTEM, "value": f"HN-{resource_id}"},
        ],
        "name": [{"use": "official", "prefix": ["นาง"], "given": ["สมศรี"], "family": "ใจดี"}],
        "gender": "female",
        "birthDate": "1970-05-01",
    }


def _category(system: str, code: str) -> list[dict[str, Any]]:
    return [_concept(system, code)]


OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"


def _observation(resource_id: str, category: str, code: str, **value: Any) -> Resource:
    return {
        "resourceType": "Observation",
        "id": resource_id,
        "meta": _meta(),
        "status": "final",
        "category": _category(OBSERVATION_CATEGORY, category),
        "code": _concept(
            LOINC if category == "vital-signs" else "https://terms.moph.go.th/lab", code
        ),
        "subject": {"reference": "Patient/p1"},
        "encounter": {"reference": "Encounter/e1"},
        "effectiveDateTime": "2026-11-23T09:30:00+07:00",
        **value,
    }


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}


def exported() -> dict[str, list[Resource]]:
    """The export's output files by type, in file order."""
    condition = {
        "resourceType": "Condition",
        "id": "c1",
        "meta": _meta("2026-11-23T05:00:00Z"),
        "code": _concept("http://hl7.org/fhir/sid/icd-10", "E11.9"),
        "subject": {"reference": "Patient/p1"},
        "encounter": {"reference": "Encounter/e1"},
        "asserter": {"reference": "Practitioner/d1"},
    }
    older = {
        **condition,
        "meta": _meta("2026-11-22T01:00:00Z"),
        "code": _concept("http://hl7.org/fhir/sid/icd-10", "E11.0"),
    }
    return {
        "Patient": [_patient("p1", CIDS[0], IN_WINDOW)],
        "Encounter": [
            {
                "resourceType": "Encounter",
                "id": "e1",
                "meta": _meta(),
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "AMB",
                },
                "subject": {"reference": "Patient/p1"},
                "period": {
                    "start": "2026-11-23T09:00:00+07:00",
                    "end": "2026-11-23T10:00:00+07:00",
                },
                "reasonCode": [{"text": "ไข้"}],
            },
            {
                "resourceType": "Encounter",
                "id": "e2",
                "meta": _meta(),
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "IMP",
                },
                "subject": {"reference": "Patient/p1"},
                "period": {"start": "2026-11-21T23:30:00+07:00"},
            },
        ],
        "Condition": [
            condition,
            older,  # an older version after the newer one: the newer stays
            {
                "resourceType": "Condition",
                "id": "c2",
                "meta": _meta(),
                "code": _concept("http://hl7.org/fhir/sid/icd-10", "I10"),
                "subject": {"reference": "Patient/p2"},  # a Patient the export lacks
                "onsetDateTime": "2026-11-22",
            },
            {
                "resourceType": "Condition",
                "id": "c3",
                "meta": _meta("2026-11-24T01:00:00Z"),  # 08:00 on the 24th in Bangkok
                "code": _concept("http://hl7.org/fhir/sid/icd-10", "J00"),
                "subject": {"reference": "Patient/p1"},
                "onsetDateTime": "2026-11-23",
            },
        ],
        "MedicationDispense": [
            {
                "resourceType": "MedicationDispense",
                "id": "md1",
                "meta": _meta(),
                "status": "completed",
                "medicationCodeableConcept": {
                    **_concept("https://terms.moph.go.th/tmt", "662401"),
                    "text": "Metformin 500 mg tablet",
                },
                "subject": {"reference": "Patient/p1"},
                "context": {"reference": "Encounter/e1"},
                "quantity": {"value": 60, "unit": "TAB"},
                "whenHandedOver": "2026-11-23T10:15:00+07:00",
                "performer": [{"actor": {"reference": "Practitioner/ph1"}}],
            }
        ],
        "MedicationRequest": [
            {
                "resourceType": "MedicationRequest",
                "id": "mr1",
                "meta": _meta(),
                "status": "active",
                "intent": "order",
                "medicationCodeableConcept": _concept(
                    "https://terms.moph.go.th/24-digit", "100000000000000000000001"
                ),
                "subject": {"reference": "Patient/p1"},
                "encounter": {"reference": "Encounter/e2"},
                "authoredOn": "2026-11-22T08:00:00+07:00",
                "requester": {"reference": "Practitioner/d1"},
                "dispenseRequest": {"quantity": {"value": 10, "unit": "AMP"}},
            }
        ],
        "Observation": [
            _observation(
                "bp1",
                "vital-signs",
                "85354-9",
                component=[
                    {"code": _concept(LOINC, "8480-6"), "valueQuantity": _quantity(120, "mm[Hg]")},
                    {"code": _concept(LOINC, "8462-4"), "valueQuantity": _quantity(80, "mm[Hg]")},
                ],
            ),
            _observation("t1", "vital-signs", "8310-5", valueQuantity=_quantity(98.6, "[degF]")),
            _observation("w1", "vital-signs", "29463-7", valueQuantity=_quantity(154, "[lb_av]")),
            _observation("pain1", "vital-signs", "72514-3", valueQuantity=_quantity(3, "{score}")),
            _observation("l1", "laboratory", "0531002", valueQuantity=_quantity(6.5, "%")),
            _observation(
                "l2",
                "laboratory",
                "0546401",
                valueQuantity={**_quantity(0.5, "mg/dL"), "comparator": "<"},
            ),
            _observation("s1", "social-history", "72166-2", valueString="never smoker"),
        ],
        "Immunization": [
            {
                "resourceType": "Immunization",
                "id": "im1",
                "meta": _meta(),
                "status": "completed",
                "vaccineCode": _concept("https://terms.moph.go.th/epi-vaccine", "010"),
                "patient": {"reference": "Patient/p1"},
                "encounter": {"reference": "Encounter/e1"},
                "occurrenceDateTime": "2026-11-23T09:40:00+07:00",
                "location": {"display": "OPD"},
            }
        ],
        "Procedure": [
            {
                "resourceType": "Procedure",
                "id": "pr1",
                "meta": _meta(),
                "status": "completed",
                "code": _concept("http://hl7.org/fhir/sid/icd-9-cm", "8952"),
                "subject": {"reference": "Patient/p1"},
                "encounter": {"reference": "Encounter/e2"},
                "performedDateTime": "2026-11-22T07:00:00+07:00",
            },
            {
                "resourceType": "Procedure",
                "id": "pr2",  # deleted: the manifest's deleted Bundle names it
                "meta": _meta("2026-11-22T02:00:00Z"),
                "status": "completed",
                "code": _concept("http://hl7.org/fhir/sid/icd-9-cm", "9904"),
                "subject": {"reference": "Patient/p1"},
                "performedDateTime": "2026-11-22T07:00:00+07:00",
            },
        ],
        "AllergyIntolerance": [
            {
                "resourceType": "AllergyIntolerance",
                "id": "al1",
                "meta": _meta(),
                "category": ["medication"],
                "criticality": "high",
                "type": "allergy",
                "code": {**_concept("https://terms.moph.go.th/tmt", "662401"), "text": "Metformin"},
                "patient": {"reference": "Patient/p1"},
                "recordedDate": "2026-11-23",
                "reaction": [{"manifestation": [{"text": "ผื่น"}]}],
            }
        ],
        "DiagnosticReport": [
            {
                "resourceType": "DiagnosticReport",
                "id": "dr1",
                "meta": _meta(),
                "status": "final",
                "category": [_concept(LOINC, "LP29684-5", "Radiology")],
                "code": _concept(LOINC, "36643-5"),
                "subject": {"reference": "Patient/p1"},
                "encounter": {"reference": "Encounter/e1"},
                "effectiveDateTime": "2026-11-23T09:50:00+07:00",
                "identifier": [{"value": "ACC-1"}],
                "conclusion": "No active lesion",
            }
        ],
        "ImagingStudy": [
            {
                "resourceType": "ImagingStudy",
                "id": "is1",
                "meta": _meta(),
                "status": "available",
                "identifier": [{"value": "ACC-2"}],
                "modality": [
                    {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "CR"}
                ],
                "subject": {"reference": "Patient/p1"},
                "encounter": {"reference": "Encounter/e1"},
                "started": "2026-11-23T09:45:00+07:00",
                "series": [
                    {
                        "uid": "1.2.3",
                        "modality": {"code": "CR"},
                        "bodySite": {"code": "51185008", "display": "chest"},
                    }
                ],
            }
        ],
    }


def referenced() -> list[Resource]:
    """Patients the server holds but the export does not (last updated long ago)."""
    return [_patient("p2", CIDS[1], "2025-01-01T00:00:00Z")]


def older_record() -> list[Resource]:
    """p1's visit of last year: what only a history read brings (one Condition is coded in
    SNOMED CT only, a reject)."""
    encounter = {
        "resourceType": "Encounter",
        "id": "e0",
        "meta": _meta(OLDER),
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": "Patient/p1"},
        "period": {"start": "2025-06-10T09:00:00+07:00", "end": "2025-06-10T09:30:00+07:00"},
    }
    conditions = [
        {
            "resourceType": "Condition",
            "id": condition_id,
            "meta": _meta(OLDER),
            "code": _concept(system, code),
            "subject": {"reference": "Patient/p1"},
            "encounter": {"reference": "Encounter/e0"},
        }
        for condition_id, system, code in (
            ("c0", "http://hl7.org/fhir/sid/icd-10", "E11.9"),
            ("c9", "http://snomed.info/sct", "44054006"),
        )
    ]
    return [encounter, *conditions]


def server_store() -> list[Resource]:
    """Every record the server holds: the export's latest versions (pr2 deleted), the
    referenced Patient, p1's older visit and a Patient nobody asks about."""
    latest: dict[tuple[str, str], Resource] = {}
    for resources in exported().values():
        for resource in resources:
            key = (resource["resourceType"], resource["id"])
            if (
                key not in latest
                or latest[key]["meta"]["lastUpdated"] <= resource["meta"]["lastUpdated"]
            ):
                latest[key] = resource
    latest.pop(("Procedure", "pr2"))
    return [*latest.values(), *referenced(), *older_record(), _patient("p3", OTHER_CID, OLDER)]


def deleted_bundle() -> Resource:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "DELETE", "url": "Procedure/pr2"}}],
    }


def write_export(folder: Path) -> None:
    """The samples as a downloaded export: NDJSON per type, the deleted Bundle, a manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    output = []
    for resource_type, resources in exported().items():
        name = f"{resource_type}.000.ndjson"
        (folder / name).write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in resources))
        output.append({"type": resource_type, "url": name})
    (folder / "deleted.Bundle.000.ndjson").write_bytes(orjson.dumps(deleted_bundle()) + b"\n")
    manifest = {
        "transactionTime": TRANSACTION_TIME,
        "requiresAccessToken": True,
        "output": output,
        "deleted": [{"type": "Bundle", "url": "deleted.Bundle.000.ndjson"}],
        "error": [],
    }
    (folder / "manifest.json").write_bytes(orjson.dumps(manifest))
