"""A FHIR hospital's CVX vaccines (issue 13): the immunization column takes a declared system
other than the MOPH one, says which (contract code_system) and loads, through sync and a real
dbt build on DuckDB. Vaccines are not sensitive by code: a known CVX code is named from the MOPH
list, an unknown one is kept and shown with its code and no name, as a native code the list
lacks; both are counted per real system in rpt_unmapped_codes, never as unclassified."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
import pytest
import yaml

from synthetic.fhir_hospital import CVX, THAI_ID_SYSTEM, ThaiPatient, append_registrations
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

HOSPITAL = "10996"
MOPH_VACCINE = "https://terms.moph.go.th/epi-vaccine"
BCG = "19"  # one MOPH code (010 BCG): named
HEPATITIS_B = "08"  # three MOPH doses: known, but no one name fits
UNKNOWN_CVX = "207"  # not in the MOPH list


def _immunization(resource_id: str, code: str) -> dict[str, Any]:
    return {
        "resourceType": "Immunization",
        "id": resource_id,
        "meta": {"lastUpdated": "2026-11-23T05:00:00Z"},
        "status": "completed",
        "vaccineCode": {"coding": [{"system": CVX, "code": code}]},
        "patient": {"reference": "Patient/p1"},
        "encounter": {"reference": "Encounter/e1"},
        "occurrenceDateTime": "2026-11-23T09:45:00+07:00",
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("cvx")
    folder = root / "fhir" / HOSPITAL / START.isoformat()
    write_export(folder)  # its one Immunization (im1) is MOPH 010
    extra = [
        _immunization("im-bcg", BCG),
        _immunization("im-hbv", HEPATITIS_B),
        _immunization("im-unknown", UNKNOWN_CVX),
    ]
    with (folder / "Immunization.000.ndjson").open("ab") as handle:
        handle.write(b"".join(orjson.dumps(r) + b"\n" for r in extra))
    registry = root / "registry"
    (registry / "hospitals").mkdir(parents=True)
    networks = {"networks": [{"code": "FHIRNET", "name": "FHIR network"}]}
    (registry / "networks.yml").write_text(yaml.safe_dump(networks), encoding="utf-8")
    document = {
        "hospital_code": HOSPITAL,
        "name": "FHIR hospital with CVX vaccines",
        "network": "FHIRNET",
        "health_region": 13,
        "participating_since": START - timedelta(days=30),
        "reject_threshold": 0.5,
        "connector": {
            "kind": "fhir_bulk",
            "path": f"../../fhir/{HOSPITAL}",
            "national_id_system": THAI_ID_SYSTEM,
            "code_systems": {"immunization": [MOPH_VACCINE, CVX]},
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
        import_registrations(conn, feed, key(settings))
    assert sync_batch(hospitals.hospitals[HOSPITAL], START, settings=settings).status == "loaded"
    transform(settings)
    return settings


def _rows(settings: Settings, sql: str) -> list[tuple[Any, ...]]:
    with connect(settings) as conn:
        return [tuple(row) for row in conn.execute(sql, [HOSPITAL]).fetchall()]


def test_cvx_vaccines_load_and_are_shown_with_their_system(built: Settings) -> None:
    raw = _rows(
        built,
        "SELECT record_key, vaccine_code, code_system FROM raw.immunization "
        "WHERE hospital_code = ? ORDER BY record_key",
    )
    assert raw == [
        ("Immunization|im-bcg", BCG, "cvx"),
        ("Immunization|im-hbv", HEPATITIS_B, "cvx"),
        ("Immunization|im-unknown", UNKNOWN_CVX, "cvx"),
        ("Immunization|im1", "010", None),
    ]
    rejects = "SELECT count(*) FROM ops.reject WHERE hospital_code = ? AND entity = 'immunization'"
    assert _rows(built, rejects) == [(0,)]
    published = _rows(
        built,
        "SELECT record_key, vaccine_code, vaccine_name, cvx_code, source_code_system, "
        "is_sensitive FROM published.immunization WHERE hospital_code = ? ORDER BY record_key",
    )
    assert published == [
        ("Immunization|im-bcg", BCG, "BCG", BCG, "cvx", False),
        ("Immunization|im-hbv", HEPATITIS_B, None, HEPATITIS_B, "cvx", False),
        ("Immunization|im-unknown", UNKNOWN_CVX, None, UNKNOWN_CVX, "cvx", False),
        ("Immunization|im1", "010", "BCG", BCG, None, False),
    ]


def test_vaccines_are_counted_by_their_real_system_and_never_alerted(built: Settings) -> None:
    report = _rows(
        built,
        "SELECT code_system, is_native_system, coded_rows, unmapped_rows, "
        "distinct_unmapped_codes, unclassified_rows FROM marts.rpt_unmapped_codes "
        "WHERE hospital_code = ? AND code_system IN ('cvx', 'moph_vaccine') ORDER BY code_system",
    )
    assert report == [("cvx", False, 3, 1, 1, 0), ("moph_vaccine", True, 1, 0, 0, 0)]
    with connect(built) as conn:
        raised = [
            a for a in alerts.evaluate(conn, START, built) if a.condition == "unclassified_codes"
        ]
    assert raised == []
