"""Issue 9, finding 10 (registration): only Thai national ID card numbers (first digit 1-5
or 8) register, over real HTTP on DuckDB and PostgreSQL; the pipeline's own check keeps
accepting every valid 13-digit ID, so extracts of non-Thai residents still load."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from stdnum.th import pin

from expectations.national_id import is_valid_thai_national_id
from tests.support.api_server import Server, citizen
from tests.support.machine import TEST_KEY
from warehouse.pseudonym import patient_key


def _national_id(first12: str) -> str:
    return first12 + pin.calc_check_digit(first12)


def _registration(cid: str) -> dict[str, object]:
    return {
        "national_id": cid,
        "birth_date": date(1985, 3, 3).isoformat(),
        "verification": {
            "method": "thaid",
            "verified_at": (datetime.now(UTC) - timedelta(minutes=2)).isoformat(),
            "national_id": cid,
        },
        "sender": {"scope": "ALL"},
        "sensitive": False,
    }


def _register(server: Server, cid: str) -> tuple[int, dict[str, object], str]:
    key = patient_key(cid, TEST_KEY.encode())
    with server.client() as client:
        answer = client.post(
            "/citizen-app/consent/registrations", json=_registration(cid), headers=citizen(key)
        )
    return answer.status_code, answer.json(), answer.text


# Fresh IDs: the fixture's 300 generated IDs are random among 8e11, and no other test uses these.
@pytest.mark.parametrize("first12", ["677000013579", "777000024680"])
def test_finding_10_non_thai_card_ids_do_not_register(api_server: Server, first12: str) -> None:
    cid = _national_id(first12)
    assert is_valid_thai_national_id(cid)  # a valid ID: the pipeline accepts it in extracts
    status, body, text = _register(api_server, cid)
    assert status == 400 and body["reason_code"] == "not_thai_card"
    assert cid not in text


def test_finding_10_a_thai_card_id_registers(api_server: Server) -> None:
    cid = _national_id("177000013579")
    status, body, text = _register(api_server, cid)
    assert status == 201, text
    assert body["patient_key"] == patient_key(cid, TEST_KEY.encode()) and cid not in text
