"""Sensitivity never fails open on a new code system (issue 13): a FHIR hospital's SNOMED CT
diagnoses through sync and a real dbt build on DuckDB. A SNOMED HIV diagnosis is classified
through the crosswalk and hidden with its encounter, as an ICD-10 B20 is; an unknown SNOMED
code and a hospital-local code are hidden as unclassified, counted per hospital, day and
system, and raise one `unclassified_codes` alert."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
import yaml

from synthetic.fhir_hospital import THAI_ID_SYSTEM, ThaiPatient, append_registrations
from tests.support.fhir_bulk_samples import CIDS, write_export
from tests.support.machine import START, TEST_KEY
from tests.support.warehouse_batches import key
from warehouse.consent.sender_choice import import_registrations, sync_hospitals
from warehouse.hospital_registry import load_registry
from warehouse.pipeline import alerts
from warehouse.pipeline.batch import sync_batch
from warehouse.pipeline.transform import transform
from warehouse.settings import Settings
from warehouse.storage.connection import connect
from warehouse.storage.schema import setup_warehouse

HOSPITAL = "10997"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
SNOMED = "http://snomed.info/sct"
LOCAL = "https://his.hospital.example.th/codes/diagnosis"
HIV_SNOMED = "86406008"  # Human immunodeficiency virus infection (crosswalk: B24)
UNKNOWN_SNOMED = "125605004"  # Fracture of bone: not in the starter crosswalk


def _condition(resource_id: str, system: str, code: str, encounter: str) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": resource_id,
        "meta": {"lastUpdated": "2026-11-23T05:00:00Z"},
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        "encounter": {"reference": f"Encounter/{encounter}"},
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("unclassified")
    folder = root / "fhir" / HOSPITAL / START.isoformat()
    write_export(folder)
    extra = [
        _condition("c-hiv", SNOMED, HIV_SNOMED, "e2"),  # the inpatient stay e2
        _condition("c-unknown", SNOMED, UNKNOWN_SNOMED, "e1"),
        _condition("c-local", LOCAL, "DX-0042", "e1"),
    ]
    with (folder / "Condition.000.ndjson").open("ab") as handle:
        handle.write(b"".join(orjson.dumps(r) + b"\n" for r in extra))
    registry = root / "registry"
    (registry / "hospitals").mkdir(parents=True)
    networks = {"networks": [{"code": "FHIRNET", "name": "FHIR network"}]}
    (registry / "networks.yml").write_text(yaml.safe_dump(networks), encoding="utf-8")
    document = {
        "hospital_code": HOSPITAL,
        "name": "FHIR hospital with SNOMED diagnoses",
        "network": "FHIRNET",
        "health_region": 13,
        "participating_since": START - timedelta(days=30),
        "reject_threshold": 0.5,
        "connector": {
            "kind": "fhir_bulk",
            "path": f"../../fhir/{HOSPITAL}",
            "national_id_system": THAI_ID_SYSTEM,
            "code_systems": {"diagnosis": [ICD10, SNOMED, LOCAL]},
        },
    }
    (registry / "hospitals" / f"{HOSPITAL}.yml").write_text(
        yaml.safe_dump(document), encoding="utf-8"
    )
    feed = root / "consent" / "registrations.csv"
    append_registrations(feed, [ThaiPatient("p1", CIDS[0], START.replace(year=1970), False)], START)
    settings = Settings(
        home=root / "home",
        registry_dir=registry,
        pseudonym_key=TEST_KEY,  # type: ignore[arg-type]
        environment="test",
    )
    setup_warehouse(settings)
    hospitals = load_registry(registry)
    with connect(settings) as conn:
        sync_hospitals(conn, hospitals)
        import_registrations(conn, feed, key(settings))  # sensitive_allowed: false
    assert sync_batch(hospitals.hospitals[HOSPITAL], START, settings=settings).status == "loaded"
    transform(settings)
    return settings


def _rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    with connect(settings) as conn:
        return [tuple(row) for row in conn.execute(sql, [HOSPITAL]).fetchall()]


def test_a_snomed_hiv_diagnosis_is_hidden_with_its_encounter(built: Settings) -> None:
    facts = _rows(
        built,
        "SELECT record_key, code_system, code_class, sensitivity_category FROM "
        "marts.fct_diagnosis WHERE hospital_code = ? ORDER BY record_key",
    )
    assert facts == [
        ("Condition|c-hiv", "snomed", "hiv", "hiv"),
        ("Condition|c-local", "local", None, "unclassified"),
        ("Condition|c-unknown", "snomed", None, "unclassified"),
        ("Condition|c1", "icd10", "visible", "unclassified"),  # its encounter's tag
    ]
    # Without the sensitive-data choice nothing of e1 or e2 reaches a physician; the patient's
    # allergy (never sensitive) shows that the rest of the record does.
    allergy = _rows(built, "SELECT record_key FROM published.allergy WHERE hospital_code = ?")
    assert allergy == [("AllergyIntolerance|al1",)]
    dispensed = _rows(
        built,
        "SELECT record_key, sensitivity_category FROM marts.fct_medication_dispense "
        "WHERE hospital_code = ? ORDER BY record_key",
    )
    assert dispensed == [
        ("MedicationDispense|md1", "unclassified"),
        ("MedicationRequest|mr1", "hiv"),
    ]
    assert _rows(built, "SELECT record_key FROM published.diagnosis WHERE hospital_code = ?") == []
    encounters = _rows(
        built,
        "SELECT record_key, sensitivity_category FROM marts.fct_encounter "
        "WHERE hospital_code = ? ORDER BY record_key",
    )
    assert encounters == [("Encounter|e1", "unclassified"), ("Encounter|e2", "hiv")]
    assert _rows(built, "SELECT record_key FROM published.encounter WHERE hospital_code = ?") == []


def test_unclassified_rows_are_counted_by_their_real_system(built: Settings) -> None:
    report = _rows(
        built,
        "SELECT code_system, is_native_system, coded_rows, unclassified_rows, "
        "distinct_unclassified_codes FROM marts.rpt_unmapped_codes "
        "WHERE hospital_code = ? AND code_system IN ('icd10', 'snomed', 'local') "
        "ORDER BY code_system",
    )
    assert report == [
        ("icd10", True, 1, 0, 0),
        ("local", False, 1, 1, 1),
        ("snomed", False, 2, 1, 1),
    ]


def test_one_alert_names_the_systems_and_their_shares(built: Settings) -> None:
    with connect(built) as conn:
        raised = [
            a for a in alerts.evaluate(conn, START, built) if a.condition == "unclassified_codes"
        ]
    assert raised == [
        alerts.Alert(
            "unclassified_codes",
            HOSPITAL,
            START,
            2,
            "no_class",
            "local 1/1 rows; snomed 1/2 rows",
        )
    ]
    assert UNKNOWN_SNOMED not in (raised[0].detail or "")
