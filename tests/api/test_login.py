"""Login over real HTTP: lockout, first-login terms, current hospital, unknown and suspended
physicians, logout and rating."""

from __future__ import annotations

import httpx

from tests.support.api_server import PINCODE, TERMS_VERSION, Server, add_physician, bearer


def _search(client: httpx.Client, token: str) -> httpx.Response:
    return client.post(
        "/patients/search", json={"first_name": "ก", "last_name": "ข"}, headers=bearer(token)
    )


def test_lockout_after_five_failures_refuses_even_the_right_pincode(api_server: Server) -> None:
    """From the guessing address only: the physician's own address still logs in."""
    hospital = api_server.cast.one_time_hospitals[0]
    add_physician(api_server.settings, "10001", [hospital])
    guesser = {"X-Forwarded-For": "198.51.100.1"}
    with api_server.client() as client:
        for _ in range(5):
            wrong = client.post(
                "/auth/login", json={"licence": "10001", "pincode": "000000"}, headers=guesser
            )
            assert wrong.status_code == 401
            assert wrong.json() == {"detail": "invalid_credentials"}
        right = client.post(
            "/auth/login", json={"licence": "10001", "pincode": PINCODE}, headers=guesser
        )
        assert right.status_code == 429
        assert right.json() == {"detail": "locked"}
        assert 1 <= int(right.headers["Retry-After"]) <= 60
        elsewhere = client.post(
            "/auth/login",
            json={"licence": "10001", "pincode": PINCODE},
            headers={"X-Forwarded-For": "198.51.100.2"},
        )
        assert elsewhere.status_code == 200


def test_first_login_requires_terms_then_a_hospital_before_any_data(api_server: Server) -> None:
    hospitals = api_server.cast.one_time_hospitals
    add_physician(api_server.settings, "10002", hospitals)
    with api_server.client() as client:
        response = client.post("/auth/login", json={"licence": "10002", "pincode": PINCODE})
        assert response.status_code == 200
        body = response.json()
        assert body["terms_accepted"] is False
        assert body["current_hospital"] is None
        assert body["hospitals"] == sorted(hospitals)
        token = body["token"]
        assert _search(client, token).json() == {"detail": "terms_not_accepted"}
        refused = client.post(
            "/auth/terms",
            json={"accept": False, "terms_version": TERMS_VERSION},
            headers=bearer(token),
        )
        assert refused.status_code == 409
        accepted = client.post(
            "/auth/terms",
            json={"accept": True, "terms_version": TERMS_VERSION},
            headers=bearer(token),
        )
        assert accepted.json()["terms_accepted"] is True
        assert _search(client, token).json() == {"detail": "hospital_not_chosen"}
        foreign = client.post(
            "/auth/hospital", json={"hospital_code": "99999"}, headers=bearer(token)
        )
        assert foreign.status_code == 409
        chosen = client.post(
            "/auth/hospital", json={"hospital_code": hospitals[1]}, headers=bearer(token)
        )
        assert chosen.json()["current_hospital"] == hospitals[1]
        assert _search(client, token).status_code == 200
        # The second login does not ask for the terms again.
        again = client.post("/auth/login", json={"licence": "10002", "pincode": PINCODE})
        assert again.json()["terms_accepted"] is True


def test_unknown_physician_is_refused_like_a_wrong_pincode(api_server: Server) -> None:
    with api_server.client() as client:
        unknown = client.post("/auth/login", json={"licence": "99999", "pincode": PINCODE})
        assert unknown.status_code == 401
        assert unknown.json() == {"detail": "invalid_credentials"}
        assert _search(client, "not-a-token").status_code == 401
        assert client.post("/patients/search", json={"national_id": "1" * 13}).status_code == 401


def test_suspension_ends_live_sessions_at_once(api_server: Server) -> None:
    from warehouse.api import physicians
    from warehouse.storage.connection import connect

    hospital = api_server.cast.one_time_hospitals[0]
    add_physician(api_server.settings, "10003", [hospital])
    with connect(api_server.settings) as conn:
        physicians.add_admin(conn, "admin-10003", hospital, "admin-password")
    with api_server.client() as client:
        from tests.support.api_server import login

        token = login(client, "10003")
        assert _search(client, token).status_code == 200
        admin = client.post(
            "/admin/login", json={"username": "admin-10003", "password": "admin-password"}
        ).json()["token"]
        suspended = client.post("/admin/physicians/10003/suspend", headers=bearer(admin))
        assert suspended.json()["status"] == "suspended"
        assert _search(client, token).status_code == 401
        relogin = client.post("/auth/login", json={"licence": "10003", "pincode": PINCODE})
        assert relogin.status_code == 403
        assert relogin.json() == {"detail": "suspended"}
        # An admin of another hospital cannot touch this physician.
        other = api_server.cast.one_time_hospitals[1]
        with connect(api_server.settings) as conn:
            physicians.add_admin(conn, "admin-other", other, "admin-password")
        other_admin = client.post(
            "/admin/login", json={"username": "admin-other", "password": "admin-password"}
        ).json()["token"]
        assert (
            client.post(
                "/admin/physicians/10003/reactivate", headers=bearer(other_admin)
            ).status_code
            == 404
        )


def test_logout_then_rating_once(api_server: Server) -> None:
    from tests.support.api_server import login

    add_physician(api_server.settings, "10004", [api_server.cast.one_time_hospitals[0]])
    with api_server.client() as client:
        token = login(client, "10004")
        ticket = client.post("/auth/logout", headers=bearer(token)).json()["rating_ticket"]
        assert _search(client, token).status_code == 401
        rating = {"rating_ticket": ticket, "score": 5, "comment": "ใช้งานง่าย"}
        assert client.post("/ratings", json=rating).status_code == 204
        assert client.post("/ratings", json=rating).status_code == 404
        assert client.post("/ratings", json=rating | {"score": 6}).status_code == 422


def test_logins_are_audited_naming_only_registered_accounts(api_server: Server) -> None:
    """Every physician and admin login, refused or not, is an audit row on the keyed chain;
    an unknown licence or admin name is request input and, like every secret, appears
    nowhere."""
    from warehouse.api import physicians
    from warehouse.storage.connection import connect

    hospital = api_server.cast.one_time_hospitals[0]
    add_physician(api_server.settings, "10005", [hospital])
    with connect(api_server.settings) as conn:
        physicians.add_admin(conn, "admin-10005", hospital, "admin-password-5")
        before = int(conn.execute("SELECT max(access_id) FROM audit.access_log").fetchone()[0])
    with api_server.client() as client:
        for licence, pincode in (("10005", "000000"), ("99998", PINCODE), ("10005", PINCODE)):
            client.post("/auth/login", json={"licence": licence, "pincode": pincode})
        for username, password in (
            ("admin-10005", "wrong-password-9"),
            ("admin-nobody", "wrong-password-9"),
            ("admin-10005", "admin-password-5"),
        ):
            client.post("/admin/login", json={"username": username, "password": password})
    with connect(api_server.settings) as conn:
        rows = conn.execute(
            "SELECT action, outcome, physician_licence, purpose FROM audit.access_log "
            "WHERE access_id > ? ORDER BY access_id",
            [before],
        ).fetchall()
        written = repr(
            conn.execute("SELECT * FROM audit.access_log WHERE access_id > ?", [before]).fetchall()
        )
    assert [tuple(row) for row in rows] == [
        ("login", "refused:401:invalid_credentials", "10005", "physician"),
        ("login", "refused:401:invalid_credentials", None, "physician"),
        ("login", "ok", "10005", "physician"),
        ("login", "refused:401:invalid_credentials", "admin:admin-10005", "admin"),
        ("login", "refused:401:invalid_credentials", None, "admin"),
        ("login", "ok", "admin:admin-10005", "admin"),
    ]
    for secret in (
        "99998",
        "admin-nobody",
        "000000",
        PINCODE,
        "wrong-password-9",
        "admin-password-5",
    ):
        assert secret not in written
