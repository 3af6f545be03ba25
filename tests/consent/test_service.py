"""The consent service on a real warehouse (DuckDB and PostgreSQL): events and projection."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from tests.support.consent_kit import (
    DAY0,
    H1,
    H2,
    H3,
    H4,
    H4_JOINS,
    KEY,
    NET01,
    allowed_of,
    bkk,
    key_of,
    national_id,
    registration,
    registry,
)
from warehouse import consent as cs
from warehouse.consent import ConsentRefused, SenderChoice

REG = registry()


@pytest.fixture(autouse=True)
def _hospitals_joined(conn: Any) -> None:
    """H1-H3 participate from before the tests' days (the registry mirror is in place)."""
    cs.record_hospital_joined(conn, REG, DAY0.date(), now=bkk(2025, 1, 1))


def _register(
    conn: Any, serial: int, choice: SenderChoice | None = None, now=DAY0
) -> cs.PatientState:  # type: ignore[no-untyped-def]
    reg = registration(serial, choice, verified_at=now - timedelta(minutes=5))
    return cs.register(conn, REG, reg, KEY, now=now)


def _projection(conn: Any, key: str) -> tuple[Any, ...]:
    consent = conn.execute(
        "SELECT status, sender_scope, sensitive_allowed, registered_on FROM consent.patient_consent"
        " WHERE patient_key = ?",
        [key],
    ).fetchone()
    senders = conn.execute(
        "SELECT kind, code FROM consent.patient_sender WHERE patient_key = ? ORDER BY 1, 2", [key]
    ).fetchall()
    return (tuple(consent) if consent else None, [tuple(s) for s in senders])


def _event_count(conn: Any) -> int:
    return int(conn.execute("SELECT count(*) FROM consent.event").fetchone()[0])


def test_registration_appends_an_event_and_projects_the_state(conn: Any) -> None:
    state = _register(conn, 1, SenderChoice.of(networks={NET01}, hospitals={H3}))
    assert state.patient_key == key_of(1)
    (event,) = cs.load_events(conn, key_of(1))
    assert (event.event_type, event.verification_method) == ("registered", "thaid")
    assert event.verified_at == DAY0 - timedelta(minutes=5)
    assert national_id(1) not in event.payload_json()
    assert _projection(conn, key_of(1)) == (
        ("active", "LIST", False, DAY0.date()),
        [("hospital", H3), ("network", NET01)],
    )
    assert allowed_of(conn, H1) == {key_of(1)}


def test_refusals_append_nothing(conn: Any) -> None:
    _register(conn, 1)
    before = _event_count(conn)
    with pytest.raises(ConsentRefused) as caught:
        _register(conn, 1)
    assert caught.value.reason_code == "already_registered"
    with pytest.raises(ConsentRefused) as same_day:
        cs.change_sources(conn, REG, key_of(1), SenderChoice.of(hospitals={H1}), now=DAY0)
    assert same_day.value.reason_code == "changed_today"
    with pytest.raises(ConsentRefused) as unknown:
        cs.withdraw(conn, key_of(2), now=DAY0)
    assert unknown.value.reason_code == "not_registered"
    assert _event_count(conn) == before


def test_day_boundary_for_list_changes(conn: Any) -> None:
    _register(conn, 1, now=bkk(2025, 2, 10, 9, 0))
    choice = SenderChoice.of(hospitals={H2})
    with pytest.raises(ConsentRefused) as caught:
        cs.change_sources(conn, REG, key_of(1), choice, now=bkk(2025, 2, 10, 23, 59))
    assert caught.value.reason_code == "changed_today"
    cs.change_sources(conn, REG, key_of(1), choice, now=bkk(2025, 2, 11, 0, 1))
    assert _projection(conn, key_of(1))[1] == [("hospital", H2)]
    assert allowed_of(conn, H1) == set()


def test_withdrawal_hides_at_once_and_rejoin_is_newly_consenting(conn: Any) -> None:
    _register(conn, 1, now=bkk(2025, 2, 9))
    cs.set_sensitive(conn, key_of(1), True, now=bkk(2025, 2, 9, 11))
    cs.withdraw(conn, key_of(1), now=bkk(2025, 2, 10, 8))
    assert _projection(conn, key_of(1))[0][0] == "withdrawn"
    assert allowed_of(conn, H1) == set()
    for refused_at in (bkk(2025, 2, 10, 23, 59),):
        with pytest.raises(ConsentRefused) as caught:
            cs.rejoin(conn, REG, key_of(1), now=refused_at)
        assert caught.value.reason_code == "rejoin_same_day"
    with pytest.raises(ConsentRefused) as blocked:
        cs.set_sensitive(conn, key_of(1), True, now=bkk(2025, 2, 10, 9))
    assert blocked.value.reason_code == "withdrawn"
    cs.rejoin(conn, REG, key_of(1), now=bkk(2025, 2, 11, 0, 1))
    status, scope, sensitive, registered_on = _projection(conn, key_of(1))[0]
    assert (status, scope, sensitive) == ("active", "ALL", False)  # sensitive back to off
    assert str(registered_on) == "2025-02-11"  # the Bangkok day of rejoining
    assert allowed_of(conn, H1) == {key_of(1)}


def test_sensitive_choice_is_off_by_default_and_not_limited_per_day(conn: Any) -> None:
    _register(conn, 1)
    assert _projection(conn, key_of(1))[0][2] is False
    for minute, allowed in ((1, True), (2, False), (3, True)):
        cs.set_sensitive(conn, key_of(1), allowed, now=DAY0 + timedelta(minutes=minute))
    assert _projection(conn, key_of(1))[0][2] is True


def test_a_hospital_joining_later_reaches_all_and_network_choosers(conn: Any) -> None:
    _register(conn, 1)  # ALL
    _register(conn, 2, SenderChoice.of(networks={NET01}))
    _register(conn, 3, SenderChoice.of(hospitals={H1}))
    assert cs.record_hospital_joined(conn, REG, DAY0.date()) == []  # H1-H3 joined already
    assert all(not cs.notifications(conn, key_of(n)) for n in (1, 2, 3))
    march = bkk(2025, 3, 1, 1)
    _register(conn, 4, SenderChoice.of(hospitals={H2}), now=march)  # saw H4 in the list
    assert cs.record_hospital_joined(conn, REG, H4_JOINS, now=march) == [H4]
    assert cs.record_hospital_joined(conn, REG, H4_JOINS, now=march) == []  # idempotent
    assert allowed_of(conn, H4) == {key_of(1), key_of(2)}
    (notice,) = cs.notifications(conn, key_of(3))
    assert notice["kind"] == "hospital_joined" and notice["payload"]["hospital_code"] == H4
    assert not cs.notifications(conn, key_of(1)) and not cs.notifications(conn, key_of(4))
    # The list chooser may add it (another day than their registration).
    cs.change_sources(conn, REG, key_of(3), SenderChoice.of(hospitals={H1, H4}), now=march)
    assert key_of(3) in allowed_of(conn, H4)
    joined = conn.execute(
        "SELECT patient_key, payload FROM consent.event WHERE event_type = 'hospital_joined'"
        " ORDER BY event_id DESC"
    ).fetchone()
    assert joined[0] is None and json.loads(joined[1])["network_code"] == NET01


def test_state_from_the_log_matches_the_projection(conn: Any) -> None:
    _register(conn, 1, SenderChoice.of(hospitals={H1}), now=bkk(2025, 2, 9))
    cs.change_sources(conn, REG, key_of(1), SenderChoice.of(networks={NET01}), now=DAY0)
    state = cs.current_state(conn, key_of(1))
    assert state is not None and state.choice == SenderChoice.of(networks={NET01})
    assert _projection(conn, key_of(1))[1] == [("network", NET01)]
