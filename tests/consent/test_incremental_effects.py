"""The daily effects read what changed: the purge's checkpoint and the cohort's slice of the log.

The daily purge examines only patients with a narrowing event since its checkpoint; the full
sweep compares every stored row (what no event records, e.g. a row stored without the load's
consent filter, only it finds). The checkpoint moves with the deletes or not at all. The
cohort split read from a slice of the log equals the whole-log fold, on random histories.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.support.consent_kit import (
    DAY0,
    H1,
    H2,
    H3,
    H4,
    H5,
    KEY,
    key_of,
    registration,
    registry,
    sender_choices,
)
from warehouse import consent as cs
from warehouse.consent import ConsentRefused, SenderChoice
from warehouse.consent.cohort import newly_consenting, read_log_since
from warehouse.consent.effects import request_full_history
from warehouse.consent.model import Event, PatientState, apply_event, fold
from warehouse.consent.purge import RECHECKED_EVENT_IDS

REG = registry()


def _register(conn: Any, serial: int, choice: SenderChoice | None = None) -> None:
    cs.register(
        conn,
        REG,
        registration(serial, choice, verified_at=DAY0 - timedelta(minutes=5)),
        KEY,
        now=DAY0,
    )


def _raw_rows(conn: Any, pairs: list[tuple[str, str]]) -> None:
    (start,) = conn.execute("SELECT count(*) FROM raw.encounter").fetchone()
    for number, (key, hospital) in enumerate(pairs, start=start):
        conn.execute(
            "INSERT INTO raw.encounter (hospital_code, record_key, patient_key) VALUES (?, ?, ?)",
            [hospital, f"R{number}", key],
        )


def _stored(conn: Any) -> list[tuple[str, str]]:
    rows = conn.execute("SELECT DISTINCT patient_key, hospital_code FROM raw.encounter").fetchall()
    return sorted((key, hospital) for key, hospital in rows)


def _checkpoint(conn: Any) -> int | None:
    (through,) = conn.execute("SELECT max(through_event_id) FROM ops.purge_checkpoint").fetchone()
    return through


def _last_event_id(conn: Any) -> int:
    (last,) = conn.execute("SELECT max(event_id) FROM consent.event").fetchone()
    return int(last)


def test_daily_purge_examines_changed_patients_the_full_sweep_everyone(
    conn: Any, tmp_path: Path
) -> None:
    cs.record_hospital_joined(conn, REG, DAY0.date(), now=DAY0 - timedelta(days=30))
    _register(conn, 1, SenderChoice.of(hospitals={H1}))
    _register(conn, 2)
    _register(conn, 3)
    _raw_rows(conn, [(key_of(1), H1), (key_of(2), H1), (key_of(2), H3), (key_of(3), H1)])
    landing = tmp_path / "landing"
    first = cs.purge(conn, landing)  # no checkpoint yet: the first purge is a full sweep
    assert (first.full, first.pairs) == (True, 0)
    assert _checkpoint(conn) == _last_event_id(conn)
    # A row consent never allowed, stored past the load's filter (patient 1 chose H1 only),
    # and no event since for patient 1: the daily purge does not look at them.
    _raw_rows(conn, [(key_of(1), H3)])
    cs.withdraw(conn, key_of(2), now=DAY0 + timedelta(days=1))
    assert cs.purge_plan(conn) == sorted([(key_of(2), H1), (key_of(2), H3)])
    assert cs.purge_plan(conn, full=True) == sorted(
        [(key_of(1), H3), (key_of(2), H1), (key_of(2), H3)]
    )
    daily = cs.purge(conn, landing)
    assert (daily.full, daily.pairs, daily.patients, daily.rows_raw) == (False, 2, 1, 2)
    assert _stored(conn) == sorted([(key_of(1), H1), (key_of(1), H3), (key_of(3), H1)])
    assert _checkpoint(conn) == _last_event_id(conn)
    assert cs.purge(conn, landing).pairs == 0  # nothing narrowed since: nothing to examine
    full = cs.purge(conn, landing, full=True)
    assert (full.full, full.pairs, full.rows_raw) == (True, 1, 1)
    assert _stored(conn) == sorted([(key_of(1), H1), (key_of(3), H1)])
    (logged,) = conn.execute("SELECT count(*) FROM consent.purge_log").fetchone()
    assert logged == 2  # purges that deleted something; the empty ones only move the checkpoint


def test_the_checkpoint_moves_only_with_the_deletes(conn: Any, tmp_path: Path) -> None:
    cs.record_hospital_joined(conn, REG, DAY0.date(), now=DAY0 - timedelta(days=30))
    _register(conn, 1)
    _register(conn, 2)
    _raw_rows(conn, [(key_of(1), H1), (key_of(2), H1)])
    cs.purge(conn, tmp_path)
    before = _checkpoint(conn)
    # A purgeable table whose rows another table still references: deleting there fails,
    # after raw.encounter (earlier in table order) was already deleted from.
    conn.execute(
        "CREATE TABLE raw.zz_held (patient_key VARCHAR PRIMARY KEY, hospital_code VARCHAR)"
    )
    conn.execute(
        "CREATE TABLE raw.zz_holder (patient_key VARCHAR REFERENCES raw.zz_held (patient_key))"
    )
    conn.execute("INSERT INTO raw.zz_held VALUES (?, ?)", [key_of(1), H1])
    conn.execute("INSERT INTO raw.zz_holder VALUES (?)", [key_of(1)])
    cs.withdraw(conn, key_of(1), now=DAY0 + timedelta(days=1))
    with pytest.raises(Exception, match=r"(?i)foreign key|constraint"):
        cs.purge(conn, tmp_path)
    assert _checkpoint(conn) == before
    assert _stored(conn) == sorted([(key_of(1), H1), (key_of(2), H1)])  # rolled back
    (logged,) = conn.execute("SELECT count(*) FROM consent.purge_log").fetchone()
    assert logged == 0
    conn.execute("DELETE FROM raw.zz_holder")
    retried = cs.purge(conn, tmp_path)  # the same withdrawal is planned again
    deleted = {table: n for table, n in retried.rows.items() if n}
    assert (retried.full, retried.pairs, deleted) == (
        False,
        1,
        {"raw.encounter": 1, "raw.zz_held": 1},
    )
    assert _stored(conn) == [(key_of(2), H1)]
    assert before is not None and _checkpoint(conn) == _last_event_id(conn) > before


def test_the_daily_plan_rereads_ids_just_below_the_checkpoint(conn: Any, tmp_path: Path) -> None:
    """An event that became visible after a higher id was covered (PostgreSQL gives out ids
    before commit) is still examined while it is within RECHECKED_EVENT_IDS."""
    cs.record_hospital_joined(conn, REG, DAY0.date(), now=DAY0 - timedelta(days=30))
    _register(conn, 1)
    _raw_rows(conn, [(key_of(1), H1)])
    cs.purge(conn, tmp_path)
    cs.withdraw(conn, key_of(1), now=DAY0 + timedelta(days=1))
    late = _last_event_id(conn)
    conn.execute("UPDATE ops.purge_checkpoint SET through_event_id = ?", [late + 10])
    assert cs.purge_plan(conn) == [(key_of(1), H1)]
    conn.execute(
        "UPDATE ops.purge_checkpoint SET through_event_id = ?", [late + RECHECKED_EVENT_IDS]
    )
    assert cs.purge_plan(conn) == []  # beyond the window: only the full sweep finds it
    assert cs.purge_plan(conn, full=True) == [(key_of(1), H1)]


def test_purge_cli_daily_and_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from warehouse.cli.consent import app
    from warehouse.settings import Settings, get_settings
    from warehouse.storage.connection import connect
    from warehouse.storage.schema import setup_schema

    registry_dir = tmp_path / "registry"
    (registry_dir / "hospitals").mkdir(parents=True)
    (registry_dir / "networks.yml").write_text(
        "networks:\n  - {code: NET01, name: Network one}\n", encoding="utf-8"
    )
    (registry_dir / "hospitals" / f"{H1}.yml").write_text(
        f"hospital_code: '{H1}'\nname: Hospital one\nnetwork: NET01\nhealth_region: 1\n"
        "participating_since: 2024-01-01\nconnector: {kind: file43, path: extracts}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("HEALTHLINK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HEALTHLINK_REGISTRY_DIR", str(registry_dir))
    monkeypatch.setenv("HEALTHLINK_ENVIRONMENT", "test")
    get_settings.cache_clear()
    warehouse = Settings(home=tmp_path / "home", environment="test")
    runner = CliRunner()

    def purge(*flags: str) -> dict[str, Any]:
        result = runner.invoke(app, ["purge", "--json", *flags])
        assert result.exit_code == 0, result.output
        assert "unregistered-patient" not in result.output  # counts only
        return dict(json.loads(result.stdout))

    try:
        with connect(warehouse) as conn:
            setup_schema(conn)
            _raw_rows(conn, [("unregistered-patient", H1)])
        assert purge() | {"rows_marts": 0} == {  # the first purge sweeps everything
            "full": True,
            "pairs": 1,
            "patients": 1,
            "hospitals": 1,
            "rows_raw": 1,
            "rows_marts": 0,
            "rows_derived": 0,
            "landing_files_rewritten": 0,
            "reclaimed": ["raw.encounter"],  # DuckDB: CHECKPOINT after the purge
            "reclaim_pending": [],
        }
        with connect(warehouse) as conn:
            _raw_rows(conn, [("unregistered-patient", H1)])
        daily = purge()  # the row's patient has no event: the daily purge does not look
        assert (daily["full"], daily["pairs"]) == (False, 0)
        full = purge("--full")
        assert (full["full"], full["pairs"], full["rows_raw"]) == (True, 1, 1)
    finally:
        get_settings.cache_clear()


# --- cohort: the slice of the log against the whole-log fold -------------------------------


def _whole_log_cohort(
    events: list[Event], hospital: str, network: str | None, since: datetime
) -> tuple[list[str], list[str], bool]:
    """The split as every hospital computed it before: fold the whole log."""

    def allowed(state: PatientState | None) -> bool:
        return state is not None and state.active and state.choice.covers(hospital, network)

    joined_at = next(
        (
            e.occurred_at
            for e in events
            if e.event_type == "hospital_joined" and e.payload["hospital_code"] == hospital
        ),
        None,
    )
    states = fold([e for e in events if e.occurred_at <= since])
    interrupted = {key for key, state in states.items() if not allowed(state)}
    for event in events:
        if event.patient_key is None or event.occurred_at <= since:
            continue
        new = apply_event(states.get(event.patient_key), event)
        if new is not None:
            states[event.patient_key] = new
            if not allowed(new) or event.event_type in ("registered", "rejoined"):
                interrupted.add(event.patient_key)
    now_allowed = sorted(key for key, state in states.items() if allowed(state))
    joined = joined_at is not None and joined_at > since
    newly = [key for key in now_allowed if joined or key in interrupted]
    return newly, [key for key in now_allowed if key not in newly], joined


_choices = sender_choices(max_networks=1)
_ACTIONS = ["register", "sources", "withdraw", "rejoin", "sensitive", "join"]
# (action, patient, choice, hours since the previous action: a negative step logs an earlier
# instant later). Patients 1-3 register first, so that most later actions are accepted.
_actions = st.tuples(
    st.lists(_choices, min_size=3, max_size=3),
    st.lists(
        st.tuples(
            st.sampled_from(_ACTIONS),
            st.integers(1, 4),
            _choices,
            st.sampled_from([-30, 1, 6, 13, 24, 31]),
        ),
        max_size=15,
    ),
).map(lambda drawn: [("register", n, c, 1) for n, c in enumerate(drawn[0], start=1)] + drawn[1])


def _act(conn: Any, action: str, serial: int, choice: SenderChoice, now: datetime) -> None:
    day = now.date()
    try:
        if action == "register":
            reg = registration(serial, choice, verified_at=now - timedelta(minutes=1))
            cs.register(conn, registry(h4_since=day), reg, KEY, now=now)
        elif action == "sources":
            cs.change_sources(conn, registry(h4_since=day), key_of(serial), choice, now=now)
        elif action == "withdraw":
            cs.withdraw(conn, key_of(serial), now=now)
        elif action == "rejoin":
            cs.rejoin(conn, registry(h4_since=day), key_of(serial), choice, now=now)
        elif action == "sensitive":
            cs.set_sensitive(conn, key_of(serial), serial % 2 == 0, now=now)
        else:
            cs.record_hospital_joined(conn, registry(h4_since=day), day, now=now)
    except ConsentRefused:
        pass


def _reset(conn: Any) -> None:
    for table in (
        "consent.event",
        "consent.patient_sender",
        "consent.patient_consent",
        "consent.notification",
        "consent.hospital",
        "ops.cohort_checkpoint",
        "ops.history_request",
    ):
        conn.execute(f"DELETE FROM {table}")


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(actions=_actions, since_step=st.integers(0, 17), since_offset=st.sampled_from([-1, 0, 0, 1]))
def test_cohort_from_the_log_slice_equals_the_whole_log_fold(
    conn: Any, actions: list[tuple[str, int, SenderChoice, int]], since_step: int, since_offset: int
) -> None:
    request_full_history(conn, [], date(2025, 1, 1))  # the ops tables exist
    _reset(conn)
    cs.record_hospital_joined(conn, registry(h4_since=None), DAY0.date(), now=DAY0)
    now, times = DAY0, []
    for action, serial, choice, hours in actions:
        now += timedelta(hours=hours)
        times.append(now)
        _act(conn, action, serial, choice, now)
    # `since` at, just before or just after one of the actions' instants
    since = times[min(since_step, len(times) - 1)] + timedelta(seconds=since_offset)
    events = cs.load_events(conn)
    networks = dict(
        conn.execute("SELECT hospital_code, network_code FROM consent.hospital").fetchall()
    )
    log = read_log_since(conn, since)
    for hospital in (H1, H2, H3, H4, H5):
        expected = _whole_log_cohort(events, hospital, networks.get(hospital), since)
        got = cs.cohort_changes(conn, hospital, since, log)
        assert (got.newly_consenting, got.continuing, got.hospital_joined) == expected, hospital
        assert newly_consenting(conn, hospital, log) == (expected[0], expected[2])
    # The daily path: checkpoints at `since`, then one request per newly consenting patient.
    for hospital in (H1, H2, H3, H4, H5):
        conn.execute(
            "INSERT INTO ops.cohort_checkpoint (hospital_code, computed_at) VALUES (?, ?)",
            [hospital, since.replace(tzinfo=None)],
        )
    asked = request_full_history(conn, [H1, H2, H3, H4, H5], now.date(), now=now)
    assert asked == {
        h: len(_whole_log_cohort(events, h, networks.get(h), since)[0])
        for h in (H1, H2, H3, H4, H5)
    }
