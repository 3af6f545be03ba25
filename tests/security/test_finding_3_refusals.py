"""Finding 3 (issue 9): refused requests are audited too.

Before, requests refused with 401, 403 (terms_not_accepted) or 422 wrote no audit row. Now
every patient-touching request of an authenticated actor leaves one row, refused ones
included with outcome `refused:<status>:<reason>`, and unauthenticated refusals are counted
per day, route and status in audit.refusal_count instead of row by row. The routes are
enumerated from the app at run time, so a route added later is covered without editing this
file. Each audited request also exports exactly one head to the sink. Both warehouses.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi.routing import APIRoute

from tests.support.api_server import PINCODE, Server, add_physician, bearer, citizen, login
from warehouse.api.refusals import is_patient_touching
from warehouse.storage.connection import connect

CITIZEN_PREFIX = "/citizen-app"
MALFORMED_KEY = "NOT-A-KEY"


def _app_routes() -> list[APIRoute]:
    from warehouse.api.main import app

    return [r for r in app.routes if isinstance(r, APIRoute)]


def _touches_patients(route: APIRoute) -> bool:
    """This test's own reading of 'patient-touching', checked against the module's."""
    return "{patient_key}" in route.path or route.path.startswith(
        ("/patients", "/fhir/Patient", CITIZEN_PREFIX)
    )


def _patient_routes() -> list[APIRoute]:
    routes = [r for r in _app_routes() if _touches_patients(r)]
    assert all(is_patient_touching(r) for r in routes)
    assert {"/patients/search", "/patients/{patient_key}/record"} <= {r.path for r in routes}
    return routes


def _physician_routes() -> list[APIRoute]:
    return [r for r in _patient_routes() if not r.path.startswith(CITIZEN_PREFIX)]


def _path(route: APIRoute, patient_key: str) -> str:
    def value(match: re.Match[str]) -> str:
        return patient_key if match.group(1) == "patient_key" else "0" * 32

    return re.sub(r"\{([a-z_]+)\}", value, route.path)


def _valid_body(server: Server, route: APIRoute) -> Any:
    """A body that passes validation, for the routes that take one (None: no body)."""
    if route.body_field is None:
        return None
    cast = server.cast
    bodies: dict[str, Any] = {
        "/patients/search": {"national_id": cast.multi_hospital_cid},
        "/fhir/Patient/_search": {
            "identifier": f"https://terms.sil-th.org/id/th-cid|{cast.multi_hospital_cid}"
        },
        "/patients/{patient_key}/break-glass": {
            "reason": "Unconscious on arrival by ambulance, no relatives reachable"
        },
        "/patients/{patient_key}/per-visit-requests": {
            "source_hospitals": cast.per_visit_hospitals
        },
    }
    assert route.path in bodies, f"add a valid body for the new route {route.path}"
    return bodies[route.path]


def _send(
    client: httpx.Client, route: APIRoute, path: str, body: Any, token: str | None
) -> httpx.Response:
    method = sorted(route.methods)[0]
    headers = bearer(token) if token else {}
    if body is None and method == "GET":
        return client.request(method, path, headers=headers)
    return client.request(method, path, json=body if body is not None else {}, headers=headers)


def _rows_after(server: Server, after: int) -> list[tuple[Any, ...]]:
    with connect(server.settings) as conn:
        return conn.execute(
            "SELECT access_id, action, outcome, physician_licence, patient_key "
            "FROM audit.access_log WHERE access_id > ? ORDER BY access_id",
            [after],
        ).fetchall()


def _last_id(server: Server) -> int:
    with connect(server.settings) as conn:
        return int(
            conn.execute("SELECT coalesce(max(access_id), 0) FROM audit.access_log").fetchone()[0]
        )


def _head_lines(server: Server) -> int:
    sink = server.settings.audit_head_sink_path
    return len(sink.read_text("utf-8").splitlines()) if sink.exists() else 0


def _refusal_counts(server: Server) -> dict[tuple[str, int], int]:
    today = datetime.now(UTC).date()
    with connect(server.settings) as conn:
        rows = conn.execute(
            "SELECT route, status_code, refusals FROM audit.refusal_count WHERE day = ?", [today]
        ).fetchall()
    return {(r[0], int(r[1])): int(r[2]) for r in rows}


def test_finding_3_refused_requests_of_a_physician_are_audited(api_server: Server) -> None:
    """403 (terms not accepted) and 422 (malformed body or path key) on every
    patient-touching route: one row each, with the refused outcome; one head each."""
    cast = api_server.cast
    hospital = cast.one_time_hospitals[0]
    add_physician(api_server.settings, "39301", [hospital])
    add_physician(api_server.settings, "39302", [hospital])
    key = cast.multi_hospital_patient
    with api_server.client() as client:
        response = client.post("/auth/login", json={"licence": "39301", "pincode": PINCODE})
        assert response.status_code == 200 and not response.json()["terms_accepted"]
        unaccepted = response.json()["token"]
        ready = login(client, "39302")
        for route in _physician_routes():
            before, heads = _last_id(api_server), _head_lines(api_server)
            body = _valid_body(api_server, route)
            refused = _send(client, route, _path(route, key), body, unaccepted)
            assert refused.status_code == 403, (route.path, refused.text)
            malformed_path = route.body_field is None
            path = _path(route, MALFORMED_KEY if malformed_path else key)
            invalid = _send(client, route, path, None if malformed_path else ["x"], ready)
            assert invalid.status_code == 422, (route.path, invalid.text)
            rows = _rows_after(api_server, before)
            assert [(r[1], r[2].split(":")[:2], r[3]) for r in rows] == [
                (route.name, ["refused", "403"], "39301"),
                (route.name, ["refused", "422"], "39302"),
            ], route.path
            assert rows[0][2] == "refused:403:terms_not_accepted"
            if "{patient_key}" in route.path:
                assert rows[0][4] == key  # the key's shape: recorded
                assert rows[1][4] != MALFORMED_KEY  # request input: never recorded
            assert _head_lines(api_server) - heads == len(rows)


def test_finding_3_unauthenticated_refusals_are_counted_not_logged(api_server: Server) -> None:
    """No token, or one that is no session: 401, no audit row, one more in the count of the
    day, route and status. (A citizen-app route whose body this test cannot fill may answer
    422 first: also counted, also no row.)"""
    key = api_server.cast.multi_hospital_patient
    before, heads = _last_id(api_server), _head_lines(api_server)
    counts = _refusal_counts(api_server)
    expected: dict[tuple[str, int], int] = {}
    with api_server.client() as client:
        for route in _patient_routes():
            citizen = route.path.startswith(CITIZEN_PREFIX)
            body = _empty_body(route) if citizen else _valid_body(api_server, route)
            for token in (None, "not-a-session-token"):
                response = _send(client, route, _path(route, key), body, token)
                allowed = {401, 422} if citizen and body is not None else {401}
                assert response.status_code in allowed, (route.path, response.text)
                label = (f"{sorted(route.methods)[0]} {route.path}", response.status_code)
                expected[label] = expected.get(label, 0) + 1
    assert _rows_after(api_server, before) == []
    assert _head_lines(api_server) == heads
    after = _refusal_counts(api_server)
    assert {label: after.get(label, 0) - counts.get(label, 0) for label in expected} == expected
    assert sum(n for (_, status), n in expected.items() if status == 401) >= 2 * len(
        _physician_routes()
    )


def _empty_body(route: APIRoute) -> Any:
    return None if route.body_field is None else {}


def test_finding_3_a_self_audited_refusal_is_audited_once(api_server: Server) -> None:
    """The record of a withdrawn patient is a 404 the route audits itself: one row."""
    add_physician(api_server.settings, "39303", [api_server.cast.one_time_hospitals[0]])
    with api_server.client() as client:
        token = login(client, "39303")
        before = _last_id(api_server)
        response = client.get(
            f"/patients/{api_server.cast.withdrawn_patient}/record", headers=bearer(token)
        )
        assert response.status_code == 404
    assert [(r[1], r[2]) for r in _rows_after(api_server, before)] == [("record", "not_found")]


def test_finding_3_rate_limited_searches_are_audited(api_server: Server) -> None:
    """Past the search limit (25 a minute on the test server) each 429 leaves one row."""
    add_physician(api_server.settings, "39304", [api_server.cast.one_time_hospitals[0]])
    body = {"national_id": api_server.cast.multi_hospital_cid}
    with api_server.client() as client:
        token = login(client, "39304")
        before = _last_id(api_server)
        statuses = [
            client.post("/patients/search", json=body, headers=bearer(token)).status_code
            for _ in range(30)
        ]
    assert statuses.count(429) >= 1 and set(statuses) == {200, 429}
    rows = _rows_after(api_server, before)
    assert len(rows) == len(statuses)
    limited = [r[2] for r, status in zip(rows, statuses, strict=True) if status == 429]
    assert set(limited) <= {"rate_limited", "refused:429:rate_limited"}


def test_finding_3_refused_citizen_app_requests_are_audited(api_server: Server) -> None:
    """The citizen app acting for a patient (the identity provider's token) is an
    authenticated actor too: a malformed body on each of its routes that takes one is a 422
    with a row naming the patient, purpose citizen_app."""
    key = api_server.cast.multi_hospital_patient
    routes = [
        r
        for r in _patient_routes()
        if r.path.startswith(CITIZEN_PREFIX) and r.body_field is not None
    ]
    assert routes
    with api_server.client() as client:
        for route in routes:
            before = _last_id(api_server)
            method = sorted(route.methods)[0]
            response = client.request(method, _path(route, key), json=["x"], headers=citizen(key))
            assert response.status_code == 422, (route.path, response.text)
            rows = _rows_after(api_server, before)
            assert [(r[1], r[2].split(":")[:2], r[3], r[4]) for r in rows] == [
                (route.name, ["refused", "422"], None, key)
            ], route.path
