"""Issue 9, finding 7: every patient-touching route is rate limited per actor and per client
address, with 429 and `Retry-After`, and the counters are shared by every API process,
over real HTTP on DuckDB and PostgreSQL.

The reported attack: 800 record and `$everything` calls in two minutes went through, and the
search's 429 had no `Retry-After`.

A second API process serves the shared test warehouse with low limits (3 a minute per actor,
30 per address). Each test speaks from loopback addresses of its own (127.0.0.x), because
the address counter of 127.0.0.1 is shared with every other test. The routes come from the
served OpenAPI document at run time: every route except login and session handling, admin
accounts and ratings must be limited, so a route added later is covered.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.api_server import Server, add_physician, bearer, login
from tests.support.operations import Samples, operations, sample
from tests.support.uvicorn_server import running_api

PER_ACTOR = 3
PER_ADDRESS = 30
# Not patient-touching: login, session and terms (their own throttle), admin accounts,
# ratings. Everything else the app serves must be limited.
NOT_PATIENT_TOUCHING = ("/auth/", "/admin/", "/ratings")


@dataclass
class Limited:
    url: str
    shared: Server

    def client(self, address: str) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=address)
        return httpx.Client(base_url=self.url, timeout=60, transport=transport)


@pytest.fixture(scope="module")
def limited(api_server: Server) -> Iterator[Limited]:
    env = {
        **api_server.env,
        "HEALTHLINK_API_PATIENT_PER_MINUTE": str(PER_ACTOR),
        "HEALTHLINK_API_SEARCH_PER_MINUTE": str(PER_ACTOR),
        "HEALTHLINK_API_ADDRESS_PER_MINUTE": str(PER_ADDRESS),
    }
    log = api_server.home / f"uvicorn-limits-{uuid.uuid4().hex[:6]}.log"
    with running_api(env, log, startup_seconds=120) as url:
        yield Limited(url, api_server)


def _assert_limited(response: httpx.Response, label: str) -> None:
    assert response.status_code == 429, f"{label}: {response.status_code} {response.text[:200]}"
    retry_after = response.headers.get("Retry-After", "")
    assert retry_after.isdigit() and 1 <= int(retry_after) <= 60, f"{label}: {retry_after!r}"
    assert response.headers.get("Cache-Control") == "no-store"


def _call(client: httpx.Client, op: Any, samples: Samples, components: dict, headers: dict):
    url = op.url({name: samples.path_value(name) for name in op.path_params})
    body = sample(op.body_schema, components, samples) if op.body_schema else None
    return client.request(op.method, url, json=body, headers=headers)


def test_finding_7_every_patient_touching_route_is_limited_per_actor(limited: Limited) -> None:
    found, components = operations(limited.url)
    limited_ops = [op for op in found if not op.path.startswith(NOT_PATIENT_TOUCHING)]
    labels = {op.label for op in limited_ops}
    assert {
        "POST /patients/search",
        "GET /patients/{patient_key}/record",
        "POST /patients/{patient_key}/break-glass",
        "GET /fhir/Patient/{patient_key}/$everything",
        "POST /fhir/Patient/_search",
    } <= labels
    assert any(label.startswith("POST /citizen-app/") for label in labels)
    cast = limited.shared.cast
    samples = Samples(cast.multi_hospital_patient, cast.one_time_hospitals[0])
    for number, op in enumerate(limited_ops):
        # A bearer of its own per route: an actor's quota is counted before authentication,
        # so even a token the API will refuse is limited.
        headers = bearer(f"finding-7-actor-{uuid.uuid4().hex}")
        with limited.client(f"127.0.0.{10 + number}") as client:
            answers = [_call(client, op, samples, components, headers) for _ in range(PER_ACTOR)]
            assert all(a.status_code != 429 for a in answers), op.label
            _assert_limited(_call(client, op, samples, components, headers), op.label)


def test_finding_7_a_physician_is_limited_across_sessions_and_routes(limited: Limited) -> None:
    """The quota is the physician's, not the session's: logging in again gives none back;
    another physician at the same address is not affected. The 429 is audited."""
    from warehouse.storage.connection import connect

    shared = limited.shared
    hospital = shared.cast.one_time_hospitals[0]
    key = shared.cast.multi_hospital_patient
    add_physician(shared.settings, "71001", [hospital])
    add_physician(shared.settings, "71002", [hospital])
    with limited.client("127.0.0.2") as client:
        first, second = login(client, "71001"), login(client, "71001")
        for _ in range(PER_ACTOR):
            assert client.get(f"/patients/{key}/record", headers=bearer(first)).is_success
        everything = client.get(f"/fhir/Patient/{key}/$everything", headers=bearer(second))
        _assert_limited(everything, "second session, other route")
        other = client.get(f"/patients/{key}/record", headers=bearer(login(client, "71002")))
        assert other.status_code == 200
    with connect(shared.settings) as conn:
        outcomes = conn.execute(
            "SELECT outcome FROM audit.access_log WHERE physician_licence = '71001'"
        ).fetchall()
    assert ("refused:429:rate_limited",) in outcomes


def test_finding_7_an_address_is_limited_whoever_it_claims_to_be(limited: Limited) -> None:
    key = limited.shared.cast.multi_hospital_patient
    with limited.client("127.0.0.3") as client:
        for _ in range(PER_ADDRESS):
            answer = client.get(f"/patients/{key}/record", headers=bearer(uuid.uuid4().hex))
            assert answer.status_code == 401
        _assert_limited(
            client.get(f"/patients/{key}/record", headers=bearer(uuid.uuid4().hex)), "address"
        )
    with limited.client("127.0.0.4") as client:
        answer = client.get(f"/patients/{key}/record", headers=bearer(uuid.uuid4().hex))
        assert answer.status_code == 401, "another address keeps its own quota"


def test_finding_7_counters_are_shared_by_api_processes(limited: Limited) -> None:
    """Reads through the shared test server (a high limit) count in the same warehouse
    table: the low-limit process then refuses the same physician at once."""
    shared = limited.shared
    key = shared.cast.multi_hospital_patient
    add_physician(shared.settings, "71003", [shared.cast.one_time_hospitals[0]])
    with shared.client() as client:
        token = login(client, "71003")
        for _ in range(PER_ACTOR):
            assert client.get(f"/patients/{key}/record", headers=bearer(token)).is_success
    with limited.client("127.0.0.5") as client:
        _assert_limited(
            client.get(f"/patients/{key}/record", headers=bearer(token)), "other process"
        )
