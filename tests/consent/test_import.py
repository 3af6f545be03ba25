"""`healthlink consent import`: the feed goes through the rules into the event log, in bulk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.consent_kit import (
    H1,
    H2,
    H3,
    H5,
    KEY,
    allowed_of,
    bkk,
    key_of,
    national_id,
    registry,
)
from warehouse import consent as cs
from warehouse.consent.model import fold
from warehouse.consent.sender_choice import (
    import_registrations,
    sync_hospitals,
)

HEADER = (
    "cid,birth_date,registered_at,status,sender_scope,sender_networks,sender_hospitals,"
    "sensitive_allowed,verification_method,verified_at"
)
LINES = [
    f"{national_id(1)},1980-05-01,2025-02-01T03:00:00,active,ALL,,,true,thaid,2025-02-01T02:50:00",
    f"{national_id(2)},1980-05-01,2025-02-01T03:00:00,withdrawn,ALL,,,false,thaid,2025-02-01T02:50:00",
    f"{national_id(3)},1980-05-01,2025-02-01T03:00:00,active,LIST,NET02,{H1},false,dopa_face,"
    "2025-02-01T02:50:00",
    "1234567890123,1980-05-01,2025-02-01T03:00:00,active,ALL,,,false,thaid,2025-02-01T02:50:00",
    # 18 on 2 Feb 2025 in Bangkok, registered at 23:30 Bangkok on 1 Feb: too young.
    f"{national_id(4)},2007-02-02,2025-02-01T16:30:00,active,ALL,,,false,thaid,2025-02-01T16:00:00",
    f"{national_id(5)},1980-05-01,2025-02-01T03:00:00,active,LIST,,{H5},false,thaid,"
    "2025-02-01T02:50:00",
    f"{national_id(6)},1980-05-01,2025-02-01T03:00:00,active,ALL,,,false,,2025-02-01T02:50:00",
    f"{national_id(7)},not-a-date,2025-02-01T03:00:00,active,ALL,,,false,thaid,2025-02-01T02:50:00",
    f"{national_id(1)},1980-05-01,2025-02-01T03:00:00,active,ALL,,,false,thaid,2025-02-01T02:50:00",
]


def _file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "registrations.csv"
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def test_import_goes_through_the_rules_into_the_log(conn: Any, tmp_path: Path) -> None:
    reg = registry()
    sync_hospitals(conn, reg)
    result = import_registrations(conn, _file(tmp_path, LINES), KEY, reg, now=bkk(2025, 2, 10))
    assert (result.imported, result.withdrawn) == (3, 1)
    assert [refusal.to_dict() for refusal in result.refused] == [
        {"line": 5, "field": "cid", "reason": "invalid_national_id"},
        {"line": 6, "field": "birth_date", "reason": "under_age"},
        {"line": 7, "field": "sender_hospitals", "reason": "not_participating"},
        {"line": 8, "field": None, "reason": "verification_missing"},
        {"line": 9, "field": "birth_date", "reason": "malformed"},
        {"line": 10, "field": "cid", "reason": "already_registered"},
    ]
    assert str(result.refused[4]) == "line 9: malformed (birth_date)"
    assert result.read == 9
    assert not any(national_id(n) in str(result.refused) for n in range(1, 8))
    events = cs.load_events(conn)
    assert [(e.patient_key, e.event_type) for e in events] == [
        (key_of(1), "registered"),
        (key_of(2), "registered"),
        (key_of(3), "registered"),
        (key_of(2), "withdrawn"),
    ]
    assert events[0].occurred_at == bkk(2025, 2, 1, 10)
    assert events[0].verification_method == "thaid"
    # The projection the sync reads is the fold of the log.
    states = fold(events)
    assert states[key_of(1)].sensitive_allowed and not states[key_of(2)].active
    assert allowed_of(conn, H1) == {key_of(1), key_of(3)}
    assert allowed_of(conn, H3) == {key_of(1), key_of(3)}
    assert allowed_of(conn, H2) == {key_of(1)}
    # Importing again registers nobody twice.
    again = import_registrations(conn, _file(tmp_path, LINES[:3]), KEY, reg)
    assert again.imported == 0 and len(again.refused) == 3
    assert len(cs.load_events(conn)) == 4


def test_import_without_registry_reads_the_mirror(conn: Any, tmp_path: Path) -> None:
    sync_hospitals(conn, registry())
    result = import_registrations(conn, _file(tmp_path, LINES[2:3]), KEY)
    assert result.imported == 1 and result.refused == []


def test_withdraw_goes_through_the_service(conn: Any, tmp_path: Path) -> None:
    from warehouse.consent.sender_choice import withdraw

    reg = registry()
    sync_hospitals(conn, reg)
    import_registrations(conn, _file(tmp_path, LINES[:1]), KEY, reg, now=bkk(2025, 2, 10))
    assert withdraw(conn, key_of(1))
    assert not withdraw(conn, key_of(1))
    assert [e.event_type for e in cs.load_events(conn, key_of(1))] == ["registered", "withdrawn"]
    assert allowed_of(conn, H1) == set()
