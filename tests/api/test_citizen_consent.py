"""The citizen app's consent endpoints over real HTTP (issue 4, item 6)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from stdnum.th import pin

from tests.support.api_server import Server, add_physician, bearer, citizen, login
from tests.support.machine import TEST_KEY
from warehouse.pseudonym import patient_key

# Not in the generated data: its first 12 digits are outside the generator's ranges.
NEW_PATIENT_BASE = "899000012345"


def national_id(base: str = NEW_PATIENT_BASE) -> str:
    return base + pin.calc_check_digit(base)


def registration(cid: str, birth: date) -> dict:
    now = datetime.now(UTC)
    return {
        "national_id": cid,
        "birth_date": birth.isoformat(),
        "verification": {
            "method": "thaid",
            "verified_at": (now - timedelta(minutes=5)).isoformat(),
            "national_id": cid,
        },
        "sender": {"scope": "ALL"},
        "sensitive": False,
    }


def key_of(cid: str) -> str:
    return patient_key(cid, TEST_KEY.encode())


def as_citizen(cid: str) -> dict[str, str]:
    """The identity provider's token for the holder of `cid` (subject: its key)."""
    return citizen(key_of(cid))


def test_consent_life_cycle_through_the_citizen_app(api_server: Server) -> None:
    cid = national_id()
    with api_server.client() as client:
        created = client.post(
            "/citizen-app/consent/registrations",
            json=registration(cid, date(1980, 5, 1)),
            headers=as_citizen(cid),
        )
        assert created.status_code == 201, created.text
        key = created.json()["patient_key"]
        assert key == key_of(cid)
        own = citizen(key)
        assert cid not in created.text  # the ID goes no further than the request body

        state = client.get(f"/citizen-app/consent/{key}", headers=own)
        assert state.status_code == 200 and state.json()["status"] == "active"

        again = client.post(
            "/citizen-app/consent/registrations",
            json=registration(cid, date(1980, 5, 1)),
            headers=as_citizen(cid),
        )
        assert again.status_code == 409
        assert again.json()["reason_code"] == "already_registered"

        # Registration sets today's sender list: the next change waits for tomorrow (Bangkok).
        change = client.put(
            f"/citizen-app/consent/{key}/sources",
            json={"scope": "LIST", "hospitals": [api_server.cast.one_time_hospitals[0]]},
            headers=own,
        )
        assert change.status_code == 409 and change.json()["reason_code"] == "changed_today"

        sensitive = client.put(
            f"/citizen-app/consent/{key}/sensitive", json={"allowed": True}, headers=own
        )
        assert sensitive.status_code == 200 and sensitive.json()["sensitive_allowed"] is True

        withdrawn = client.post(f"/citizen-app/consent/{key}/withdrawal", headers=own)
        assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
        rejoin = client.post(f"/citizen-app/consent/{key}/rejoin", json={}, headers=own)
        assert rejoin.status_code == 409 and rejoin.json()["reason_code"] == "rejoin_same_day"


def test_refusals_are_typed_and_personal_data_free(api_server: Server) -> None:
    minor = national_id("899000054321")
    with api_server.client() as client:
        young = client.post(
            "/citizen-app/consent/registrations",
            json=registration(minor, date.today() - timedelta(days=365 * 10)),
            headers=as_citizen(minor),
        )
        assert young.status_code == 400
        assert young.json()["reason_code"] == "under_age"
        assert minor not in young.text

        other = national_id("899000067890")
        someone_else = registration(other, date(1970, 1, 1))
        someone_else["verification"]["national_id"] = minor
        refused = client.post(
            "/citizen-app/consent/registrations", json=someone_else, headers=as_citizen(other)
        )
        assert refused.status_code == 400 and refused.json()["reason_code"] == "not_self"
        # The token's subject is someone else than the national ID registered.
        not_theirs = client.post(
            "/citizen-app/consent/registrations",
            json=registration(other, date(1970, 1, 1)),
            headers=as_citizen(minor),
        )
        assert not_theirs.status_code == 400 and not_theirs.json()["reason_code"] == "not_self"

        unknown = client.get(f"/citizen-app/consent/{'0' * 32}", headers=citizen("0" * 32))
        assert unknown.status_code == 404 and unknown.json()["reason_code"] == "not_registered"


def test_physicians_cannot_act_as_the_citizen_app(api_server: Server) -> None:
    add_physician(api_server.settings, "30001", [api_server.cast.one_time_hospitals[0]])
    with api_server.client() as client:
        token = login(client, "30001")
        response = client.post(
            "/citizen-app/consent/registrations",
            json=registration(national_id("899000011111"), date(1975, 1, 1)),
            headers=bearer(token),
        )
        assert response.status_code == 401
        assert client.get(f"/citizen-app/consent/{'0' * 32}").status_code == 401
