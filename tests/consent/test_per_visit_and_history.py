"""Per-visit consent (request, approve, decline, expire) and "who could see what on day X"."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.support.consent_kit import (
    DAY0,
    H1,
    H2,
    H3,
    KEY,
    NET01,
    bkk,
    key_of,
    registration,
    registry,
)
from warehouse import consent as cs
from warehouse.consent import ConsentRefused, SenderChoice

REG = registry()
DOCTOR = ("12345", H1)


@pytest.fixture(autouse=True)
def _setup(conn: Any) -> None:
    cs.record_hospital_joined(conn, REG, DAY0.date(), now=bkk(2025, 1, 1))
    cs.register(conn, REG, registration(1), KEY, now=DAY0)


def _request(conn: Any, sources: list[str], now=DAY0) -> cs.PerVisitRequest:  # type: ignore[no-untyped-def]
    return cs.request_access(conn, REG, *DOCTOR, key_of(1), sources, now=now)


def _grants(conn: Any) -> list[tuple[Any, ...]]:
    rows = conn.execute(
        "SELECT physician_licence, physician_hospital_code, source_hospital_code, granted_at,"
        " expires_at FROM consent.per_visit_grant ORDER BY source_hospital_code"
    ).fetchall()
    return [tuple(r) for r in rows]


def test_only_per_visit_hospitals_may_be_requested(conn: Any) -> None:
    with pytest.raises(ConsentRefused) as caught:
        _request(conn, [H2])
    assert caught.value.reason_code == "not_per_visit"


def test_approval_grants_until_the_end_of_the_bangkok_day(conn: Any) -> None:
    request = _request(conn, [H3], now=bkk(2025, 2, 10, 22, 0))
    assert request.status == "pending"
    approved = cs.approve(conn, key_of(1), request.request_id, now=bkk(2025, 2, 10, 23, 59))
    assert approved.status == "approved"
    (grant,) = _grants(conn)
    # Naive Bangkok wall-clock time: what the per-visit gate compares with local_now().
    assert grant[:3] == ("12345", H1, H3)
    assert str(grant[3]) == "2025-02-10 23:59:00"
    assert str(grant[4]) == "2025-02-11 00:00:00"
    with pytest.raises(ConsentRefused) as again:
        cs.decline(conn, key_of(1), request.request_id, now=bkk(2025, 2, 10, 23, 59))
    assert again.value.reason_code == "request_closed"


def test_decline_and_expiry_are_recorded(conn: Any) -> None:
    declined = _request(conn, [H3])
    cs.decline(conn, key_of(1), declined.request_id, now=DAY0 + timedelta(minutes=1))
    stale = _request(conn, [H3], now=bkk(2025, 2, 10, 23, 58))
    with pytest.raises(ConsentRefused) as caught:  # answered after the day ended
        cs.approve(conn, key_of(1), stale.request_id, now=bkk(2025, 2, 11, 0, 1))
    assert caught.value.reason_code == "request_expired"
    forgotten = _request(conn, [H3], now=bkk(2025, 2, 11, 9))
    assert cs.expire_requests(conn, now=bkk(2025, 2, 12, 0, 1)) == 1
    statuses = {r.request_id: r.status for r in cs.requests_of(conn, key_of(1))}
    assert statuses == {
        declined.request_id: "declined",
        stale.request_id: "expired",
        forgotten.request_id: "expired",
    }
    assert _grants(conn) == []
    kinds = [e.event_type for e in cs.load_events(conn, key_of(1)) if "per_visit" in e.event_type]
    assert kinds.count("per_visit_expired") == 2 and "per_visit_declined" in kinds


def test_who_could_see_follows_the_day_history(conn: Any) -> None:
    key = key_of(1)
    cs.change_sources(
        conn, REG, key, SenderChoice.of(networks={NET01}, hospitals={H3}), now=bkk(2025, 2, 11, 8)
    )
    cs.set_sensitive(conn, key, True, now=bkk(2025, 2, 11, 9))
    request = _request(conn, [H3], now=bkk(2025, 2, 11, 10))
    cs.approve(conn, key, request.request_id, now=bkk(2025, 2, 11, 10, 5))
    cs.withdraw(conn, key, now=bkk(2025, 2, 11, 15))
    answer = cs.who_could_see(conn, key, bkk(2025, 2, 11).date())
    segments = answer["segments"]
    assert [s["status"] for s in segments] == ["active", "active", "active", "withdrawn"]
    assert [s["from"][11:16] for s in segments] == ["00:00", "08:00", "09:00", "15:00"]
    codes = [[h["hospital_code"] for h in s["hospitals"]] for s in segments]
    assert codes == [[H1, H2, H3], [H1, H2, H3], [H1, H2, H3], []]
    assert [s["sensitive_visible"] for s in segments] == [False, False, True, False]
    assert {h["hospital_code"]: h["per_visit_required"] for h in segments[0]["hospitals"]}[H3]
    (grant,) = answer["per_visit_grants"]
    assert (grant["physician_licence"], grant["source_hospital_code"]) == ("12345", H3)
    # The day before: registered at 10:00, nothing earlier.
    before = cs.who_could_see(conn, key, DAY0.date())["segments"]
    assert [s["status"] for s in before] == ["unregistered", "active"]
    assert cs.who_could_see_all(conn, DAY0.date())[0]["patient_key"] == key
