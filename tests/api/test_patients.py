"""Search, the record (several hospitals, per-visit gating, request and grant), withdrawn
patients, break-glass; over real HTTP against the session's warehouse."""

from __future__ import annotations

from typing import Any

from tests.support.api_server import (
    CITIZEN_APP_TOKEN,
    Server,
    add_physician,
    audit_count,
    bearer,
    citizen,
    login,
)


def _hospitals(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {h["hospital_code"]: h for h in record["hospitals"]}


def _misspell(first: str, last: str) -> tuple[str, str]:
    """A tone mark added, spacing changed, one letter of the last name replaced."""
    typo_last = last[:-1] + ("ก" if last[-1] != "ก" else "ข")
    return f"{first[:2]} {first[2:]}\u0e48", f" {typo_last} "


def test_search_by_national_id_and_by_misspelled_thai_name(api_server: Server) -> None:
    cast = api_server.cast
    add_physician(api_server.settings, "20001", [cast.one_time_hospitals[0]])
    with api_server.client() as client:
        token = login(client, "20001")
        by_id = client.post(
            "/patients/search", json={"national_id": cast.multi_hospital_cid}, headers=bearer(token)
        ).json()
        assert by_id["total"] == 1
        assert by_id["items"][0]["patient_key"] == cast.multi_hospital_patient
        assert "cid" not in by_id["items"][0] and "national_id" not in by_id["items"][0]
        first, last = _misspell(*cast.multi_hospital_name)
        by_name = client.post(
            "/patients/search",
            json={"first_name": first, "last_name": last, "page_size": 5},
            headers=bearer(token),
        ).json()
        assert cast.multi_hospital_patient in [i["patient_key"] for i in by_name["items"]]
        assert by_name["total"] <= 5 or len(by_name["items"]) == 5
        # A withdrawn patient is not there at all: same shape as nobody.
        gone = client.post(
            "/patients/search", json={"national_id": cast.withdrawn_cid}, headers=bearer(token)
        ).json()
        nobody = client.post(
            "/patients/search", json={"national_id": "1" * 13}, headers=bearer(token)
        ).json()
        assert gone == nobody == {"total": 0, "page": 1, "page_size": 20, "items": []}
        assert (
            client.get(f"/patients/search?national_id={cast.multi_hospital_cid}").status_code == 405
        )


def test_search_is_rate_limited_per_physician(api_server: Server) -> None:
    add_physician(api_server.settings, "20002", [api_server.cast.one_time_hospitals[0]])
    add_physician(api_server.settings, "20003", [api_server.cast.one_time_hospitals[0]])
    body = {"national_id": "1" * 13}
    with api_server.client() as client:
        token, other = login(client, "20002"), login(client, "20003")
        codes = [
            client.post("/patients/search", json=body, headers=bearer(token)).status_code
            for _ in range(26)
        ]
        assert codes[:25] == [200] * 25 and codes[25] == 429
        assert client.post("/patients/search", json=body, headers=bearer(other)).status_code == 200


def test_record_splits_by_hospital_and_gates_per_visit_until_granted(api_server: Server) -> None:
    cast = api_server.cast
    key = cast.multi_hospital_patient
    add_physician(api_server.settings, "20004", [cast.one_time_hospitals[0]])
    with api_server.client() as client:
        token = login(client, "20004")
        record = client.get(f"/patients/{key}/record", headers=bearer(token))
        assert record.status_code == 200
        body = record.json()
        assert body["disclaimer_th"] and body["disclaimer_en"]
        hospitals = _hospitals(body)
        assert len(hospitals) >= 3
        for code in cast.one_time_hospitals:
            section = hospitals[code]
            assert section["consent_status"] == "consented" and not section["withheld"]
            assert section["data_as_of"] is not None
            rows = [
                r for rows in section["categories"].values() for r in rows if "recorded_at" in r
            ]
            assert rows and all(r["recorded_at"] and r["record_key"] for r in rows)
        for code in cast.per_visit_hospitals:
            section = hospitals[code]
            assert section["consent_status"] == "per_visit_required" and section["withheld"]
            assert all(rows == [] for rows in section["categories"].values())
            assert section["per_visit_request_endpoint"] == f"/patients/{key}/per-visit-requests"

        request = client.post(
            f"/patients/{key}/per-visit-requests",
            json={"source_hospitals": cast.per_visit_hospitals},
            headers=bearer(token),
        )
        assert request.status_code == 201, request.text
        request_id = request.json()["request_id"]
        pending = _hospitals(client.get(f"/patients/{key}/record", headers=bearer(token)).json())
        assert {pending[c]["consent_status"] for c in cast.per_visit_hospitals} == {"requested"}

        decision = {"decision": "approve"}
        url = f"/citizen-app/per-visit-requests/{request_id}/decision"
        # Neither the physician nor the app's own credential answers for the patient.
        assert client.post(url, json=decision, headers=bearer(token)).status_code == 401
        assert client.post(url, json=decision, headers=bearer(CITIZEN_APP_TOKEN)).status_code == 401
        approved = client.post(url, json=decision, headers=citizen(key))
        assert approved.status_code == 200 and approved.json()["status"] == "approved"
        granted = _hospitals(client.get(f"/patients/{key}/record", headers=bearer(token)).json())
        for code in cast.per_visit_hospitals:
            assert granted[code]["consent_status"] == "consented"
            assert any(granted[code]["categories"].values())

    # The grant is this physician's (at this hospital) only.
    add_physician(api_server.settings, "20005", [cast.one_time_hospitals[0]])
    with api_server.client() as client:
        other = login(client, "20005")
        request_id = client.post(
            f"/patients/{key}/per-visit-requests",
            json={"source_hospitals": cast.per_visit_hospitals[:1]},
            headers=bearer(other),
        ).json()["request_id"]
        declined = client.post(
            f"/citizen-app/per-visit-requests/{request_id}/decision",
            json={"decision": "decline"},
            headers=citizen(key),
        )
        assert declined.json()["status"] == "declined"
        seen = _hospitals(client.get(f"/patients/{key}/record", headers=bearer(other)).json())
        assert seen[cast.per_visit_hospitals[0]]["consent_status"] == "declined"
        assert seen[cast.per_visit_hospitals[1]]["consent_status"] == "per_visit_required"


def test_withdrawn_patient_is_indistinguishable_from_nobody(api_server: Server) -> None:
    cast = api_server.cast
    add_physician(api_server.settings, "20006", [cast.one_time_hospitals[0]])
    nobody = "0" * 32
    with api_server.client() as client:
        headers = bearer(login(client, "20006"))
        for path, method, body in (
            ("/patients/{}/record", "GET", None),
            ("/fhir/Patient/{}/$everything", "GET", None),
            (
                "/patients/{}/per-visit-requests",
                "POST",
                {"source_hospitals": cast.per_visit_hospitals},
            ),
            ("/patients/{}/break-glass", "POST", {"reason": "หมดสติ ไม่มีญาติ ต้องการประวัติแพ้ยา"}),
        ):
            withdrawn = client.request(
                method, path.format(cast.withdrawn_patient), json=body, headers=headers
            )
            unknown = client.request(method, path.format(nobody), json=body, headers=headers)
            assert withdrawn.status_code == unknown.status_code == 404
            assert withdrawn.json() == unknown.json() == {"detail": "patient_not_found"}
            assert withdrawn.headers.get("content-length") == unknown.headers.get("content-length")


def test_break_glass_opens_gated_hospitals_flags_audit_and_notifies(api_server: Server) -> None:
    from warehouse.storage.connection import connect

    cast = api_server.cast
    key = cast.multi_hospital_patient
    add_physician(api_server.settings, "20007", [cast.one_time_hospitals[1]])
    reason = "ผู้ป่วยหมดสติ ห้องฉุกเฉิน ต้องการประวัติแพ้ยา"
    with api_server.client() as client:
        token = login(client, "20007")
        assert (
            client.post(
                f"/patients/{key}/break-glass", json={"reason": "short"}, headers=bearer(token)
            ).status_code
            == 422
        )
        opened = client.post(
            f"/patients/{key}/break-glass", json={"reason": reason}, headers=bearer(token)
        )
        assert opened.status_code == 200
        hospitals = _hospitals(opened.json())
        for code in cast.per_visit_hospitals:
            assert hospitals[code]["consent_status"] == "break_glass"
            assert any(hospitals[code]["categories"].values())
        # The opening served that one read: the next ordinary read is gated again.
        after = _hospitals(client.get(f"/patients/{key}/record", headers=bearer(token)).json())
        for code in cast.per_visit_hospitals:
            assert after[code]["withheld"] and after[code]["consent_status"] == "per_visit_required"
    with connect(api_server.settings) as conn:
        flagged = conn.execute(
            "SELECT break_glass, reason, purpose, source_hospitals FROM audit.access_log "
            "WHERE physician_licence = '20007' AND action = 'break_glass_record' AND outcome = 'ok'"
        ).fetchall()
    with api_server.client() as client:
        listed = client.get(f"/citizen-app/consent/{key}/notifications", headers=citizen(key))
    notified = [
        (n["kind"], n["payload"]["physician_licence"], n["payload"]["source_hospitals"])
        for n in listed.json()
        if n["kind"] == "break_glass" and n["payload"]["physician_licence"] == "20007"
    ]
    assert flagged == [(True, reason, "emergency", ",".join(sorted(hospitals)))]
    assert notified == [("break_glass", "20007", sorted(cast.per_visit_hospitals))]
    if api_server.settings.uses_postgres:  # RLS admitted the rows through a flagged grant
        with connect(api_server.settings) as conn:
            grants = conn.execute(
                "SELECT source_hospital_code, expires_at - granted_at FROM consent.per_visit_grant "
                "WHERE physician_licence = '20007' AND break_glass ORDER BY 1"
            ).fetchall()
        assert [g[0] for g in grants] == cast.per_visit_hospitals
        assert all(g[1].total_seconds() < 0.001 for g in grants)


def test_audit_rows_equal_the_patient_touching_requests(api_server: Server) -> None:
    from warehouse.audit.trail import signing_key, verify
    from warehouse.storage.connection import connect

    cast = api_server.cast
    add_physician(api_server.settings, "20008", [cast.one_time_hospitals[0]])
    with api_server.client() as client:
        token = login(client, "20008")  # not patient data: no audit row
        client.get("/auth/session", headers=bearer(token))
        before = audit_count(api_server.settings)
        touching = [
            client.post(
                "/patients/search",
                json={"national_id": cast.multi_hospital_cid},
                headers=bearer(token),
            ),
            client.post(
                "/patients/search",
                json={"first_name": "สม", "last_name": "ใจดี"},
                headers=bearer(token),
            ),
            client.get(f"/patients/{cast.multi_hospital_patient}/record", headers=bearer(token)),
            client.get(f"/patients/{cast.withdrawn_patient}/record", headers=bearer(token)),
            client.post(
                "/fhir/Patient/_search",
                json={
                    "identifier": f"https://terms.sil-th.org/id/th-cid|{cast.multi_hospital_cid}"
                },
                headers=bearer(token),
            ),
            client.get(
                f"/fhir/Patient/{cast.multi_hospital_patient}/$everything", headers=bearer(token)
            ),
            client.post(
                f"/patients/{cast.multi_hospital_patient}/per-visit-requests",
                json={"source_hospitals": cast.one_time_hospitals},  # refused: not per-visit
                headers=bearer(token),
            ),
        ]
        assert [r.status_code for r in touching] == [200, 200, 200, 404, 200, 200, 409]
    with connect(api_server.settings) as conn:
        rows = conn.execute(
            "SELECT action, outcome, physician_licence, physician_hospital_code, patient_key, categories, "
            "source_hospitals FROM audit.access_log WHERE access_id > ? ORDER BY access_id",
            [before],
        ).fetchall()
        settings = api_server.settings
        result = verify(conn, signing_key(settings), settings.audit_head_sink_path)
    assert len(rows) == len(touching)
    assert [(r[0], r[1]) for r in rows] == [
        ("search_by_id", "ok"),
        ("search_by_name", "ok"),
        ("record", "ok"),
        ("record", "not_found"),
        ("fhir_search", "ok"),
        ("fhir_everything", "ok"),
        ("per_visit_request", "refused:not_per_visit"),
    ]
    assert {(r[2], r[3]) for r in rows} == {("20008", cast.one_time_hospitals[0])}
    record_row = rows[2]
    assert record_row[4] == cast.multi_hospital_patient
    assert set(record_row[6].split(",")) == set(cast.one_time_hospitals)
    assert "encounters" in record_row[5].split(",")
    assert result.ok, result.problems
