"""Issue 9, finding 5: break-glass reaches the patient, and its reason must say something,
over real HTTP on DuckDB and PostgreSQL.

The notification lands in the ONE notification home the citizen app lists (the patient's
own list, not anyone else's); a reason of spaces, invisible characters or one repeated
character is a 422 naming the field without repeating the value, and opens nothing.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.api_server import Server, add_physician, bearer, citizen, login

REASON = "ผู้ป่วยหมดสติ ถูกนำส่งห้องฉุกเฉิน ต้องการประวัติแพ้ยา"
BAD_REASONS = {
    "ten spaces": " " * 10,
    "ten zero-width spaces": "\u200b" * 10,
    "one repeated letter": "xxxxxxxxxx",
    "padding around a short word": "\u200b\u00a0 help \u2060\u3000\t\n\u200d      ",
    "two letters repeated": "abababababab",
    "bidi and joiners": "\u202e\u2066\u200c\ufeff" * 5 + "ok",
}


def _notifications(client: httpx.Client, patient_key: str, kind: str) -> list[dict[str, Any]]:
    answer = client.get(
        f"/citizen-app/consent/{patient_key}/notifications", headers=citizen(patient_key)
    )
    assert answer.status_code == 200, answer.text
    return [n for n in answer.json() if n["kind"] == kind]


def _other_patient(server: Server) -> str:
    from warehouse.storage.connection import connect

    with connect(server.settings) as conn:
        (key,) = conn.execute(
            "SELECT max(patient_key) FROM consent.patient_consent "
            "WHERE status = 'active' AND patient_key NOT IN (?, ?)",
            [server.cast.multi_hospital_patient, server.cast.withdrawn_patient],
        ).fetchone()
    return str(key)


def test_finding_5_break_glass_notifies_the_patient_only(api_server: Server) -> None:
    cast = api_server.cast
    patient = cast.multi_hospital_patient
    bystander = _other_patient(api_server)
    add_physician(api_server.settings, "65001", [cast.one_time_hospitals[0]])
    with api_server.client() as client:
        before = len(_notifications(client, patient, "break_glass"))
        bystander_before = _notifications(client, bystander, "break_glass")
        token = login(client, "65001", hospital=cast.one_time_hospitals[0])
        opened = client.post(
            f"/patients/{patient}/break-glass",
            json={"reason": f"  {REASON}\u200b "},
            headers=bearer(token),
        )
        assert opened.status_code == 200, opened.text
        notes = _notifications(client, patient, "break_glass")
        assert len(notes) == before + 1
        payload = notes[-1]["payload"]
        assert payload["physician_licence"] == "65001"
        assert payload["physician_hospital_code"] == cast.one_time_hospitals[0]
        assert payload["reason"] == REASON  # normalised: no padding, no invisible characters
        assert sorted(payload["source_hospitals"]) == sorted(cast.per_visit_hospitals)
        assert _notifications(client, bystander, "break_glass") == bystander_before


def test_finding_5_per_visit_request_reaches_the_same_list(api_server: Server) -> None:
    """One home for every kind: the per-visit request the patient answers is listed too."""
    cast = api_server.cast
    patient = cast.multi_hospital_patient
    add_physician(api_server.settings, "65002", [cast.one_time_hospitals[1]])
    with api_server.client() as client:
        token = login(client, "65002", hospital=cast.one_time_hospitals[1])
        created = client.post(
            f"/patients/{patient}/per-visit-requests",
            json={"source_hospitals": cast.per_visit_hospitals[:1]},
            headers=bearer(token),
        )
        assert created.status_code == 201, created.text
        requests = _notifications(client, patient, "per_visit_request")
        assert created.json()["request_id"] in {n["payload"]["request_id"] for n in requests}


@pytest.mark.parametrize("name", sorted(BAD_REASONS))
def test_finding_5_empty_reasons_are_refused_without_echo(api_server: Server, name: str) -> None:
    cast = api_server.cast
    patient = cast.multi_hospital_patient
    reason = BAD_REASONS[name]
    licence = f"651{sorted(BAD_REASONS).index(name):02d}"  # one physician per case
    add_physician(api_server.settings, licence, [cast.one_time_hospitals[0]])
    with api_server.client() as client:
        before = len(_notifications(client, patient, "break_glass"))
        token = login(client, licence, hospital=cast.one_time_hospitals[0])
        refused = client.post(
            f"/patients/{patient}/break-glass", json={"reason": reason}, headers=bearer(token)
        )
        assert refused.status_code == 422, (name, refused.status_code)
        body = refused.json()
        assert any(
            isinstance(item, dict) and item.get("loc", [])[-1:] == ["reason"]
            for item in body["detail"]
        ), body
        assert reason not in refused.text
        assert json.dumps(reason)[1:-1] not in refused.text  # nor its escaped form
        assert len(_notifications(client, patient, "break_glass")) == before
