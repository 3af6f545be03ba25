"""FHIR R4 output over real HTTP, every resource validated with fhir.resources.R4B."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from tests.support.api_server import Server, add_physician, bearer, citizen, login
from warehouse.api.fhir import TH_CID

EXPECTED = {
    "Patient",
    "Encounter",
    "Condition",
    "AllergyIntolerance",
    "MedicationDispense",
    "Immunization",
    "Procedure",
    "Observation",
    "DiagnosticReport",
}


def _validate(bundle: dict[str, Any]) -> Counter[str]:
    get_fhir_model_class("Bundle").model_validate(bundle)
    kinds: Counter[str] = Counter()
    for entry in bundle["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
        kinds[resource["resourceType"]] += 1
    return kinds


def _grant_all(client: Any, token: str, key: str, hospitals: list[str]) -> None:
    request_id = client.post(
        f"/patients/{key}/per-visit-requests",
        json={"source_hospitals": hospitals},
        headers=bearer(token),
    ).json()["request_id"]
    client.post(
        f"/citizen-app/per-visit-requests/{request_id}/decision",
        json={"decision": "approve"},
        headers=citizen(key),
    ).raise_for_status()


def _patients_with(api_server: Server, views: tuple[str, ...]) -> list[str]:
    from warehouse.storage.connection import connect

    codes = api_server.cast.one_time_hospitals
    with connect(api_server.settings) as conn:
        return [
            conn.execute(
                f"SELECT min(patient_key) FROM published.{view} WHERE hospital_code IN (?, ?)",
                codes,
            ).fetchone()[0]
            for view in views
        ]


def test_search_and_everything_bundles_validate_as_r4b(api_server: Server) -> None:
    cast = api_server.cast
    key = cast.multi_hospital_patient
    add_physician(api_server.settings, "40001", [cast.one_time_hospitals[0]])
    with api_server.client() as client:
        token = login(client, "40001")
        found = client.post(
            "/fhir/Patient/_search",
            json={"identifier": f"{TH_CID}|{cast.multi_hospital_cid}"},
            headers=bearer(token),
        )
        assert found.status_code == 200
        assert found.headers["content-type"].startswith("application/fhir+json")
        search_bundle = found.json()
        assert _validate(search_bundle) == Counter({"Patient": 1})
        patient = search_bundle["entry"][0]["resource"]
        assert patient["id"] == key
        assert patient["identifier"] == [{"system": TH_CID, "value": cast.multi_hospital_cid}]

        _grant_all(client, token, key, cast.per_visit_hospitals)
        everything = client.get(f"/fhir/Patient/{key}/$everything", headers=bearer(token))
        assert everything.status_code == 200
        bundle = everything.json()
        kinds = _validate(bundle)
        # Allergies, vaccines and imaging are sparse in generated data: add one patient with
        # each at a one-time-consent hospital, so every resource kind is produced and checked.
        for key_with in _patients_with(api_server, ("allergy", "immunization", "imaging_report")):
            more = client.get(f"/fhir/Patient/{key_with}/$everything", headers=bearer(token))
            kinds += _validate(more.json())
    assert set(kinds) >= EXPECTED, kinds
    categories = {
        c["coding"][0]["code"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Observation"
        for c in e["resource"]["category"]
    }
    assert categories == {"vital-signs", "laboratory"}
    sources = {e["resource"].get("meta", {}).get("source") for e in bundle["entry"][1:]}
    assert len(sources) == 4  # provenance: every source hospital


def test_everything_withholds_per_visit_hospitals_without_a_grant(api_server: Server) -> None:
    cast = api_server.cast
    add_physician(api_server.settings, "40002", [cast.one_time_hospitals[1]])
    with api_server.client() as client:
        token = login(client, "40002")
        bundle = client.get(
            f"/fhir/Patient/{cast.multi_hospital_patient}/$everything", headers=bearer(token)
        ).json()
    _validate(bundle)
    sources = {e["resource"]["meta"]["source"].rsplit("|", 1)[1] for e in bundle["entry"][1:]}
    assert sources == set(cast.one_time_hospitals)
