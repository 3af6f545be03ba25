"""Issue 9, finding 6: a hospital admin acts on their own hospital's memberships only, over
real HTTP on DuckDB and PostgreSQL.

The reported attack: `POST /admin/physicians` linked a physician registered at another
hospital, then the admin suspended and reactivated them everywhere. Now that admin gets a
membership of their own hospital and nothing more: the physician's name, pincode, national
status and other memberships are out of reach, and another hospital's admin sees a 404.
"""

from __future__ import annotations

import httpx

from tests.support.api_server import PINCODE, TERMS_VERSION, Server, add_physician, bearer

LICENCE = "82001"


def _admin(server: Server, username: str, hospital: str) -> dict[str, str]:
    from warehouse.api import physicians
    from warehouse.storage.connection import connect

    with connect(server.settings) as conn:
        physicians.add_admin(conn, username, hospital, "admin-password-6")
    response = httpx.post(
        f"{server.url}/admin/login",
        json={"username": username, "password": "admin-password-6"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    return bearer(response.json()["token"])


def _session_at(client: httpx.Client, hospital: str) -> dict[str, str]:
    """A physician session whose current hospital is `hospital`."""
    response = client.post("/auth/login", json={"licence": LICENCE, "pincode": PINCODE})
    assert response.status_code == 200, response.text
    headers = bearer(response.json()["token"])
    if not response.json()["terms_accepted"]:
        terms = {"accept": True, "terms_version": TERMS_VERSION}
        assert client.post("/auth/terms", json=terms, headers=headers).status_code == 200
    chosen = client.post("/auth/hospital", json={"hospital_code": hospital}, headers=headers)
    assert chosen.status_code == 200, chosen.text
    return headers


def _physician_row(server: Server) -> tuple[str, str, str]:
    from warehouse.storage.connection import connect

    with connect(server.settings) as conn:
        row = conn.execute(
            "SELECT name, status, pincode_hash FROM api.physician WHERE licence = ?", [LICENCE]
        ).fetchone()
    return row[0], row[1], row[2]


def test_finding_6_admin_of_another_hospital_gets_a_membership_and_nothing_more(
    api_server: Server,
) -> None:
    home, elsewhere, third = (
        api_server.cast.one_time_hospitals[0],
        *api_server.cast.per_visit_hospitals[:2],
    )
    add_physician(api_server.settings, LICENCE, [home])
    registered = _physician_row(api_server)
    intruder = _admin(api_server, "f6-admin-elsewhere", elsewhere)
    with api_server.client() as client:
        # Adding them creates a membership of the intruder's hospital; name and pincode sent
        # along are ignored (they are not that hospital's to change).
        added = client.post(
            "/admin/physicians",
            json={"licence": LICENCE, "name": "someone else", "pincode": "604918"},
            headers=intruder,
        )
        assert added.status_code == 201, added.text
        assert added.json() == {"licence": LICENCE, "status": "active", "hospital_code": elsewhere}
        assert _physician_row(api_server) == registered
        wrong = client.post("/auth/login", json={"licence": LICENCE, "pincode": "604918"})
        assert wrong.status_code == 401

        at_home = _session_at(client, home)
        at_elsewhere = _session_at(client, elsewhere)

        # Suspension applies to the intruder's membership: the session there ends, the
        # one at the physician's own hospital goes on, and the physician stays active.
        suspended = client.post(f"/admin/physicians/{LICENCE}/suspend", headers=intruder)
        assert suspended.json() == {
            "licence": LICENCE,
            "status": "suspended",
            "hospital_code": elsewhere,
        }
        assert client.get("/auth/session", headers=at_elsewhere).status_code == 401
        assert client.get("/auth/session", headers=at_home).status_code == 200
        assert _physician_row(api_server) == registered
        again = client.post("/auth/login", json={"licence": LICENCE, "pincode": PINCODE})
        assert again.status_code == 200
        assert again.json()["hospitals"] == [home]
        refused = client.post("/auth/hospital", json={"hospital_code": elsewhere}, headers=at_home)
        assert refused.status_code == 409

        # Adding again does not lift the suspension; reactivating does, for that hospital.
        readded = client.post("/admin/physicians", json={"licence": LICENCE}, headers=intruder)
        assert readded.json()["status"] == "suspended"
        reactivated = client.post(f"/admin/physicians/{LICENCE}/reactivate", headers=intruder)
        assert reactivated.json()["status"] == "active"
        assert client.get("/auth/session", headers=at_home).status_code == 200

        # What the intruder sees of the physician: their own hospital's membership only.
        seen = client.get(f"/admin/physicians/{LICENCE}", headers=intruder)
        assert seen.json() == {"licence": LICENCE, "status": "active", "hospital_code": elsewhere}
        listed = client.get("/admin/physicians", headers=intruder).json()
        assert {m["hospital_code"] for m in listed} == {elsewhere}

        # A third hospital's admin, without a membership, cannot see or touch any of it.
        outsider = _admin(api_server, "f6-admin-third", third)
        assert client.get(f"/admin/physicians/{LICENCE}", headers=outsider).status_code == 404
        for action in ("suspend", "reactivate", "unlock"):
            response = client.post(f"/admin/physicians/{LICENCE}/{action}", headers=outsider)
            assert response.status_code == 404, action
            assert response.json() == {"detail": "not_at_your_hospital"}
        assert all(
            m["licence"] != LICENCE
            for m in client.get("/admin/physicians", headers=outsider).json()
        )
        assert client.get("/auth/session", headers=at_home).status_code == 200


def test_finding_6_home_hospital_suspension_ends_only_its_sessions(api_server: Server) -> None:
    """The physician's own hospital suspends them: sessions there end, the membership the
    other hospital created is that hospital's business."""
    licence = "82002"
    home, elsewhere = api_server.cast.one_time_hospitals[1], api_server.cast.per_visit_hospitals[0]
    add_physician(api_server.settings, licence, [home, elsewhere])
    admin = _admin(api_server, "f6-admin-home", home)
    with api_server.client() as client:
        login = client.post("/auth/login", json={"licence": licence, "pincode": PINCODE})
        token = bearer(login.json()["token"])
        terms = {"accept": True, "terms_version": TERMS_VERSION}
        client.post("/auth/terms", json=terms, headers=token)
        assert (
            client.post(
                "/auth/hospital", json={"hospital_code": elsewhere}, headers=token
            ).status_code
            == 200
        )
        suspended = client.post(f"/admin/physicians/{licence}/suspend", headers=admin)
        assert suspended.json()["status"] == "suspended"
        assert client.get("/auth/session", headers=token).status_code == 200
        relogin = client.post("/auth/login", json={"licence": licence, "pincode": PINCODE})
        assert relogin.json()["hospitals"] == [elsewhere]


def test_finding_6_new_registration_needs_name_and_a_policy_pincode(api_server: Server) -> None:
    admin = _admin(api_server, "f6-admin-register", api_server.cast.one_time_hospitals[0])
    with api_server.client() as client:
        incomplete = client.post("/admin/physicians", json={"licence": "82003"}, headers=admin)
        assert incomplete.status_code == 409
        assert incomplete.json() == {"detail": "registration_incomplete"}
        weak = client.post(
            "/admin/physicians",
            json={"licence": "82003", "name": "นพ. ใหม่", "pincode": "123456"},
            headers=admin,
        )
        assert weak.status_code == 409
        assert weak.json() == {"detail": "weak_pincode"}
        short = client.post(
            "/admin/physicians",
            json={"licence": "82003", "name": "นพ. ใหม่", "pincode": "1"},
            headers=admin,
        )
        assert short.status_code == 422
        good = client.post(
            "/admin/physicians",
            json={"licence": "82003", "name": "นพ. ใหม่", "pincode": "604918"},
            headers=admin,
        )
        assert good.status_code == 201, good.text
