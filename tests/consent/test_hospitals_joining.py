"""Hospitals joining together (a warehouse's first day: the whole country joins), on DuckDB and
PostgreSQL: the same notifications as one hospital at a time, and one read of the consents."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from tests.support.consent_kit import (
    H1,
    H2,
    H3,
    H4,
    KEY,
    NET01,
    NET02,
    NET03,
    bkk,
    key_of,
    registration,
    registry,
)
from warehouse import consent as cs
from warehouse.consent import SenderChoice
from warehouse.hospital_registry import Hospital, Registry

H6, H7, H8, H9 = "10006", "10007", "10008", "10009"
MARCH = date(2025, 3, 1)


def _registry() -> Registry:
    """The kit's registry (H1-H3 from 2024, H4 of NET01 from 1 March) and four more joining:
    H6 (NET01), H7 (NET02), H8 (NET03) on 1 March, H9 (NET02) on 15 February."""
    base = registry()

    def joining(code: str, network: str, since: date) -> Hospital:
        return base.hospitals[H1].model_copy(
            update={
                "hospital_code": code,
                "name": f"Hospital {code}",
                "network": network,
                "participating_since": since,
            }
        )

    extra = {
        H6: joining(H6, NET01, MARCH),
        H7: joining(H7, NET02, MARCH),
        H8: joining(H8, NET03, MARCH),
        H9: joining(H9, NET02, date(2025, 2, 15)),
    }
    return Registry(networks=base.networks, hospitals={**base.hospitals, **extra})


REG = _registry()
JOINING = [H4, H6, H7, H8, H9]


def _register(conn: Any, serial: int, choice: SenderChoice, now: datetime) -> None:
    reg = registration(serial, choice, verified_at=now - timedelta(minutes=5))
    cs.register(conn, REG, reg, KEY, now=now)


def _consents(conn: Any) -> None:
    """LIST choosers covering the joining hospitals by hospital, by network, or not at all,
    registered before and after the hospitals' participating_since; ALL and withdrawn ones."""
    cs.record_hospital_joined(conn, REG, date(2025, 1, 1), now=bkk(2025, 1, 1))  # H1-H3
    february = bkk(2025, 2, 10)
    _register(conn, 1, SenderChoice.everyone(), february)
    _register(conn, 2, SenderChoice.of(networks={NET01}), february)
    _register(conn, 3, SenderChoice.of(hospitals={H1}), february)
    _register(conn, 4, SenderChoice.of(networks={NET02}, hospitals={H3}), february)
    _register(conn, 5, SenderChoice.of(hospitals={H2}), bkk(2025, 2, 20))  # after H9 joined
    _register(conn, 6, SenderChoice.of(hospitals={H1}), february)
    cs.withdraw(conn, key_of(6), now=bkk(2025, 2, 11))
    _register(conn, 7, SenderChoice.of(hospitals={H1}), bkk(2025, 3, 5, 9))  # saw them all


# Patient serial -> the joining hospitals they are told about, in the order they are told.
EXPECTED = {
    2: [H7, H8, H9],  # NET01 covers H4 and H6
    3: [H4, H6, H7, H8, H9],
    4: [H4, H6, H8],  # NET02 covers H7 and H9
    5: [H4, H6, H7, H8],  # registered after H9 participated
}


def _notified(conn: Any) -> list[tuple[str, str, int]]:
    """(patient key, hospital code, event id) of every hospital_joined notice, in id order."""
    rows = conn.execute(
        "SELECT patient_key, payload, event_id FROM consent.notification"
        " WHERE kind = 'hospital_joined' ORDER BY notification_id"
    ).fetchall()
    return [
        (key, json.loads(payload)["hospital_code"], event_id) for key, payload, event_id in rows
    ]


def test_hospitals_joining_together_notify_the_list_choosers_they_do_not_cover(conn: Any) -> None:
    _consents(conn)
    joined = cs.record_hospital_joined(conn, REG, MARCH + timedelta(days=4), now=bkk(2025, 3, 5))
    assert joined == JOINING
    events = dict(
        (json.loads(payload)["hospital_code"], event_id)
        for event_id, payload in conn.execute(
            "SELECT event_id, payload FROM consent.event WHERE event_type = 'hospital_joined'"
            " ORDER BY event_id"
        ).fetchall()
    )
    assert list(events)[-len(JOINING) :] == JOINING  # joined in hospital code order
    # Hospital by hospital (its event, then its notices in patient key order), as one at a time.
    expected = sorted(
        (
            (key_of(serial), hospital)
            for serial, hospitals in EXPECTED.items()
            for hospital in hospitals
        ),
        key=lambda pair: (pair[1], pair[0]),
    )
    assert _notified(conn) == [(key, hospital, events[hospital]) for key, hospital in expected]
    mirrored = conn.execute(
        "SELECT hospital_code, network_code FROM consent.hospital ORDER BY 1"
    ).fetchall()
    assert [tuple(row) for row in mirrored] == [
        (h.hospital_code, h.network)
        for h in sorted(REG.participating(MARCH), key=lambda h: h.hospital_code)
    ]
    assert cs.record_hospital_joined(conn, REG, MARCH, now=bkk(2025, 3, 5)) == []  # idempotent
    assert len(_notified(conn)) == len(expected)


class _CountingConnection:
    """The real connection, counting the statements that read consent.patient_consent."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.consent_reads = 0

    def _count(self, sql: str) -> None:
        self.consent_reads += "consent.patient_consent" in sql

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        self._count(sql)
        return self._conn.execute(sql, params)

    def query_arrow(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        self._count(sql)
        return self._conn.query_arrow(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def test_the_consents_are_read_once_however_many_hospitals_join(conn: Any) -> None:
    """A national first day (1,100 hospitals, a million consents) cannot afford a search of the
    consents per hospital."""
    _consents(conn)
    counting = _CountingConnection(conn)
    assert cs.record_hospital_joined(counting, REG, MARCH, now=bkk(2025, 3, 5)) == JOINING
    assert counting.consent_reads == 1
