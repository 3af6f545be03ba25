"""Issue 9, finding 2: the login throttle, over real HTTP on DuckDB and PostgreSQL.

Each test guesses from addresses of its own (X-Forwarded-For, which uvicorn trusts from
127.0.0.1 by default), so the locks it causes touch nobody else. A second API process on the
same warehouse counts its verifier's calls, which proves how many pincodes were checked.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.api_server import PINCODE, Server, add_physician, bearer
from tests.support.machine import REPO
from tests.support.uvicorn_server import running_api

BUDGET = 5  # HEALTHLINK_API_LOCKOUT_FAILURES, default
WRONG = "000000"


def _login(url: str, licence: str, pincode: str, address: str) -> httpx.Response:
    return httpx.post(
        f"{url}/auth/login",
        json={"licence": licence, "pincode": pincode},
        headers={"X-Forwarded-For": address},
        timeout=120,
    )


def _concurrently(count: int, attempt: Any) -> list[httpx.Response]:
    """`attempt(i)` for i < count, released together (a barrier), each on its own thread."""
    barrier = threading.Barrier(count)

    def fire(index: int) -> httpx.Response:
        barrier.wait()
        return attempt(index)

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(fire, range(count)))


def _attempts_counted(server: Server, licence: str, address: str) -> int:
    from warehouse.storage.connection import connect

    with connect(server.settings) as conn:
        row = conn.execute(
            "SELECT attempts FROM api.login_throttle "
            "WHERE kind = 'physician' AND subject = ? AND address = ?",
            [licence, address],
        ).fetchone()
    return int(row[0])


def _admin(server: Server, username: str, hospital: str) -> str:
    from warehouse.api import physicians
    from warehouse.storage.connection import connect

    with connect(server.settings) as conn:
        physicians.add_admin(conn, username, hospital, "admin-password-2")
    response = httpx.post(
        f"{server.url}/admin/login",
        json={"username": username, "password": "admin-password-2"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


@dataclass
class Worker:
    url: str
    verifier_log: Path

    def checks(self, licence: str) -> int:
        """How many times this worker's pincode verifier was called for `licence` (one line
        per call, tests/support/counting_api.py)."""
        if not self.verifier_log.exists():
            return 0
        return self.verifier_log.read_text(encoding="ascii").split().count(licence)


@pytest.fixture(scope="module")
def second_worker(api_server: Server) -> Iterator[Worker]:
    """Another API process on the same warehouse (as a second worker would be), its
    verifier wrapped to count calls (tests/support/counting_api.py), with a small
    per-address budget so that spraying is quick to show. (Growing and capped locks:
    test_finding_2_throttle_rules.py, at chosen clock times.)"""
    verifier_log = api_server.home / "verifier-calls.log"
    env = {
        **api_server.env,
        "HEALTHLINK_API_LOGIN_ADDRESS_FAILURES": "20",
        "HEALTHLINK_TEST_VERIFIER_LOG": str(verifier_log),
    }
    log = api_server.home / "uvicorn-second.log"
    with running_api(env, log, 120, app="tests.support.counting_api:app") as url:
        yield Worker(url, verifier_log)


def test_finding_2_sixty_concurrent_wrong_logins_get_at_most_the_budget_checked(
    api_server: Server, second_worker: Worker
) -> None:
    """60 simultaneous wrong pincodes for one licence: the verifier is called BUDGET times
    (401), the rest are refused unchecked (429 + Retry-After), every attempt is counted,
    and the right pincode is refused afterwards from that address."""
    licence, address = "81001", "203.0.113.1"
    add_physician(api_server.settings, licence, [api_server.cast.one_time_hospitals[0]])
    responses = _concurrently(60, lambda _: _login(second_worker.url, licence, WRONG, address))
    assert second_worker.checks(licence) == BUDGET
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {401: BUDGET, 429: 60 - BUDGET}, statuses
    assert all(int(r.headers["Retry-After"]) >= 1 for r in responses if r.status_code == 429)
    assert _attempts_counted(api_server, licence, address) == 60  # no lost update
    right = _login(second_worker.url, licence, PINCODE, address)
    assert right.status_code == 429
    assert right.json() == {"detail": "locked"}
    assert int(right.headers["Retry-After"]) >= 1


def test_finding_2_right_pincode_among_concurrent_wrong_ones_is_still_refused(
    api_server: Server, second_worker: Worker
) -> None:
    """The reported attack: 59 wrong pincodes at once, then the right one: refused, and
    never checked. The 59 go to both workers: the budget is one, shared."""
    licence, address = "81002", "203.0.113.2"
    add_physician(api_server.settings, licence, [api_server.cast.one_time_hospitals[0]])
    urls = (api_server.url, second_worker.url)
    responses = _concurrently(59, lambda i: _login(urls[i % 2], licence, WRONG, address))
    assert Counter(r.status_code for r in responses) == {401: BUDGET, 429: 59 - BUDGET}
    before = second_worker.checks(licence)
    assert _login(second_worker.url, licence, PINCODE, address).status_code == 429
    assert second_worker.checks(licence) == before


def test_finding_2_a_lock_binds_the_guessing_address_and_an_admin_lifts_it(
    api_server: Server,
) -> None:
    """Licence numbers are public: the physician still logs in from elsewhere; their
    hospital's admin unlocks; another hospital's admin cannot (404)."""
    licence, guesser = "81003", "203.0.113.3"
    home, other = api_server.cast.one_time_hospitals[:2]
    add_physician(api_server.settings, licence, [home])
    for _ in range(BUDGET):
        assert _login(api_server.url, licence, WRONG, guesser).status_code == 401
    assert _login(api_server.url, licence, PINCODE, guesser).status_code == 429
    assert _login(api_server.url, licence, PINCODE, "203.0.113.4").status_code == 200
    other_admin = _admin(api_server, "f2-admin-other", other)
    with api_server.client() as client:
        refused = client.post(f"/admin/physicians/{licence}/unlock", headers=bearer(other_admin))
        assert refused.status_code == 404
        assert _login(api_server.url, licence, PINCODE, guesser).status_code == 429
        own_admin = _admin(api_server, "f2-admin-home", home)
        unlocked = client.post(f"/admin/physicians/{licence}/unlock", headers=bearer(own_admin))
        assert unlocked.status_code == 200, unlocked.text
    assert _login(api_server.url, licence, PINCODE, guesser).status_code == 200


def test_finding_2_admin_logins_lock_out_too(api_server: Server) -> None:
    from warehouse.api import physicians
    from warehouse.storage.connection import connect

    with connect(api_server.settings) as conn:
        physicians.add_admin(conn, "f2-admin-locked", "10999", "the-right-password")
    address = {"X-Forwarded-For": "203.0.113.5"}
    with api_server.client() as client:

        def admin_login(password: str) -> httpx.Response:
            body = {"username": "f2-admin-locked", "password": password}
            return client.post("/admin/login", json=body, headers=address)

        for _ in range(BUDGET):
            assert admin_login("wrong-password").status_code == 401
        locked = admin_login("the-right-password")
        assert locked.status_code == 429
        assert int(locked.headers["Retry-After"]) >= 1
    # The operator lifts it from the command line.
    unlock = subprocess.run(
        [sys.executable, "-m", "warehouse.cli.main", "api", "unlock-admin", "f2-admin-locked"],
        env=api_server.env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    with api_server.client() as client:
        assert admin_login("the-right-password").status_code == 200


def test_finding_2_throttle_state_is_shared_by_every_worker(
    api_server: Server, second_worker: Worker
) -> None:
    licence, address = "81004", "203.0.113.6"
    add_physician(api_server.settings, licence, [api_server.cast.one_time_hospitals[0]])
    for _ in range(BUDGET):
        assert _login(second_worker.url, licence, WRONG, address).status_code == 401
    assert _login(api_server.url, licence, PINCODE, address).status_code == 429


def test_finding_2_one_address_cannot_spray_many_licences(
    api_server: Server, second_worker: Worker
) -> None:
    """20 failures across 20 licences lock the address for every licence, even a real
    physician with the right pincode; other addresses are unaffected."""
    sprayer = "203.0.113.8"
    licence = "81006"
    add_physician(api_server.settings, licence, [api_server.cast.one_time_hospitals[0]])
    responses = _concurrently(
        20, lambda i: _login(second_worker.url, f"8200{i:02d}", WRONG, sprayer)
    )
    assert Counter(r.status_code for r in responses) == {401: 20}
    refused = _login(second_worker.url, licence, PINCODE, sprayer)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert second_worker.checks(licence) == 0  # refused before any check
    assert _login(second_worker.url, licence, PINCODE, "203.0.113.9").status_code == 200
