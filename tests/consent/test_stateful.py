"""Random consent histories with daily syncs: state, storage and published rows obey the log.

A reference model, written independently of the service (plain dicts, its own day
arithmetic), predicts whether each action is accepted and the resulting state. Each example
starts from a copy of a dbt-built warehouse (tests/support/consent_warehouses.py) holding rows of the
three test patients received before any consent, registers one or two of them, then runs
consent actions (register, change sources, withdraw, rejoin, the sensitive-data choice, a
hospital joining), each some hours after the previous one. Whenever the clock passes 02:00 in
Bangkok the daily sync runs (tests/support/consent_daily_sync.py): each participating hospital's
43-file extract, with a visit of every patient, goes through the pipeline's own steps -
consent's effects with the purge, the load with the consent filter read at load time, dbt,
publish.

After every step, on DuckDB and on PostgreSQL: the service's decision matched the model's,
the projection tables equal the state folded from consent.event by the model's own fold, and
no published row contradicts the model (published.py); on PostgreSQL also not as the API role
under row-level security. After each sync: nothing stored (raw, marts, PostgreSQL's published
row tables, landing files) belongs to a (patient, hospital) pair the model disallows, and the
day's rows were loaded for exactly the pairs it allows.

Syncs cost seconds, everything else milliseconds, so syncs are capped per example. Default:
3 examples x 12 steps, at most 2 syncs each (about a minute per backend);
HEALTHLINK_TEST_LONG=1: 10 x 30, at most 4 syncs each (about 7 minutes per backend).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.support.consent_daily_sync import (
    assert_day_loaded,
    assert_nothing_stored_against,
    run_daily_sync,
    write_registry,
)
from tests.support.consent_kit import H4, KEY, key_of, registration, registry, sender_choices
from tests.support.consent_published import (
    PATIENTS,
    ModelPatient,
    assert_api_consistent,
    assert_published_consistent,
)
from tests.support.consent_warehouses import ExampleWarehouse
from tests.support.machine import throwaway_pg_database
from warehouse import consent as cs
from warehouse.consent import ConsentRefused, SenderChoice

LONG = os.environ.get("HEALTHLINK_TEST_LONG") == "1"
# Per example, so that a replayed example behaves the same (a budget across examples would
# make hypothesis's replays flaky); past it, the DAG is paused for the rest of the example.
SYNCS_PER_EXAMPLE = 4 if LONG else 2
BKK = ZoneInfo("Asia/Bangkok")
START = datetime(2025, 2, 10, 3, 0, tzinfo=UTC)  # 10:00 in Bangkok

choices = sender_choices(max_networks=2)
patients = st.sampled_from(PATIENTS)
gaps = st.sampled_from([0, 1, 6, 13, 24, 31])  # hours between two actions


def _day(moment: datetime) -> Any:
    return moment.astimezone(BKK).date()


def next_sync_time(moment: datetime) -> datetime:
    """The first 02:00 in Bangkok after `moment`."""
    local = moment.astimezone(BKK)
    run = local.replace(hour=2, minute=0, second=0, microsecond=0)
    if run <= local:
        run += timedelta(days=1)
    return run.astimezone(UTC)


def reference_fold(conn: Any) -> dict[str, tuple[Any, ...]]:
    """The model's own reading of consent.event: key -> (status, scope, senders, sensitive)."""
    state: dict[str, dict[str, Any]] = {}
    rows = conn.execute(
        "SELECT patient_key, event_type, payload FROM consent.event ORDER BY event_id"
    ).fetchall()
    for key, kind, payload_text in rows:
        payload = json.loads(payload_text)
        if kind in ("registered", "rejoined"):
            state[key] = {"status": "active", "sensitive": payload["sensitive_allowed"]}
        if kind in ("registered", "rejoined", "sources_changed"):
            state[key]["choice"] = payload["choice"]
        elif kind == "withdrawn":
            state[key]["status"] = "withdrawn"
        elif kind == "sensitive_changed":
            state[key]["sensitive"] = payload["allowed"]
    return {
        key: (
            s["status"],
            s["choice"]["scope"],
            sorted([("network", n) for n in s["choice"]["networks"]])
            + sorted([("hospital", h) for h in s["choice"]["hospitals"]]),
            s["sensitive"],
        )
        for key, s in state.items()
    }


def projection(conn: Any) -> dict[str, tuple[Any, ...]]:
    senders: dict[str, list[tuple[str, str]]] = {}
    for key, kind, code in conn.execute(
        "SELECT patient_key, kind, code FROM consent.patient_sender ORDER BY kind DESC, code"
    ).fetchall():
        senders.setdefault(key, []).append((kind, code))
    return {
        key: (status, scope, senders.get(key, []), sensitive)
        for key, status, scope, sensitive in conn.execute(
            "SELECT patient_key, status, sender_scope, sensitive_allowed FROM consent.patient_consent"
        ).fetchall()
    }


class ConsentMachine(RuleBasedStateMachine):
    warehouse: ClassVar[ExampleWarehouse | None] = None  # set by the test, per backend

    @initialize(first=st.lists(st.tuples(patients, choices, st.booleans()), min_size=1, max_size=2))
    def open_warehouse(self, first: list[tuple[int, SenderChoice, bool]]) -> None:
        """A fresh warehouse, and one or two registrations before anything else, so that
        even a short history (or one whose random rule subset lacks `register`) has rows
        to publish and to load."""
        assert self.warehouse is not None
        self.warehouse.reset()
        self.conn = self.warehouse.open()
        # A fresh copy: no event yet, and the built marts hold the preloaded rows, so the
        # published check is not vacuous.
        assert self.conn.execute("SELECT count(*) FROM consent.event").fetchone()[0] == 0
        assert self.conn.execute("SELECT count(*) FROM marts.fct_diagnosis").fetchone()[0] > 0
        self.now = START
        self.h4_joined = False
        self.syncs = 0
        self.model = {serial: ModelPatient() for serial in PATIENTS}
        self.list_day: dict[int, Any] = {}
        self.withdrawn_day: dict[int, Any] = {}
        self._set_registry(registry(h4_since=None))
        cs.record_hospital_joined(self.conn, self.registry, _day(self.now), now=self.now)
        for serial, choice, sensitive in first:
            self.register(0, serial, choice, sensitive)

    def _set_registry(self, new: Any) -> None:
        """The registry the service is given, also as the YAML files the pipeline reads."""
        assert self.warehouse is not None
        self.registry = new
        write_registry(new, self.warehouse.settings.registry_dir, self.warehouse.extracts)

    def teardown(self) -> None:
        if hasattr(self, "conn"):
            self.conn.raw.close()  # type: ignore[attr-defined]

    def _outcome(self, action: Any) -> str | None:
        try:
            action()
        except ConsentRefused as refusal:
            return refusal.reason_code
        return None

    def _valid(self, choice: SenderChoice) -> bool:
        return choice.scope == "ALL" or bool(choice.networks or choice.hospitals)

    @rule(later=gaps, serial=patients, choice=choices, sensitive=st.booleans())
    def register(self, later: int, serial: int, choice: SenderChoice, sensitive: bool) -> None:
        self._time_passes(later)
        reg = registration(
            serial, choice, verified_at=self.now - timedelta(minutes=1), sensitive=sensitive
        )
        got = self._outcome(lambda: cs.register(self.conn, self.registry, reg, KEY, now=self.now))
        patient = self.model[serial]
        if patient.status != "unregistered":
            assert got == "already_registered"
        elif not self._valid(choice):
            assert got == "empty_choice"
        else:
            assert got is None
            self._set(serial, choice, sensitive)
            self.list_day[serial] = _day(self.now)

    def _set(self, serial: int, choice: SenderChoice, sensitive: bool | None = None) -> None:
        patient = self.model[serial]
        patient.status = "active"
        patient.scope = choice.scope
        patient.networks = set(choice.networks)
        patient.hospitals = set(choice.hospitals)
        if sensitive is not None:
            patient.sensitive = sensitive

    @rule(later=gaps, serial=patients, choice=choices)
    def change_sources(self, later: int, serial: int, choice: SenderChoice) -> None:
        self._time_passes(later)
        got = self._outcome(
            lambda: cs.change_sources(
                self.conn, self.registry, key_of(serial), choice, now=self.now
            )
        )
        patient = self.model[serial]
        same = (choice.scope, set(choice.networks), set(choice.hospitals)) == (
            patient.scope,
            patient.networks,
            patient.hospitals,
        )
        if patient.status == "unregistered":
            assert got == "not_registered"
        elif patient.status == "withdrawn":
            assert got == "withdrawn"
        elif not self._valid(choice):
            assert got == "empty_choice"
        elif same:
            assert got == "unchanged"
        elif self.list_day[serial] == _day(self.now):
            assert got == "changed_today"
        else:
            assert got is None
            self._set(serial, choice)
            self.list_day[serial] = _day(self.now)

    @rule(later=gaps, serial=patients)
    def withdraw(self, later: int, serial: int) -> None:
        self._time_passes(later)
        got = self._outcome(lambda: cs.withdraw(self.conn, key_of(serial), now=self.now))
        patient = self.model[serial]
        expected = {"unregistered": "not_registered", "withdrawn": "already_withdrawn"}
        assert got == expected.get(patient.status)
        if got is None:
            patient.status = "withdrawn"
            self.withdrawn_day[serial] = _day(self.now)

    @rule(later=gaps, serial=patients, sensitive=st.booleans())
    def rejoin(self, later: int, serial: int, sensitive: bool) -> None:
        self._time_passes(later)
        got = self._outcome(
            lambda: cs.rejoin(
                self.conn,
                self.registry,
                key_of(serial),
                sensitive_allowed=sensitive,
                now=self.now,
            )
        )
        patient = self.model[serial]
        if patient.status == "unregistered":
            assert got == "not_registered"
        elif patient.status == "active":
            assert got == "not_withdrawn"
        elif self.withdrawn_day[serial] >= _day(self.now):
            assert got == "rejoin_same_day"
        else:
            assert got is None
            patient.status = "active"
            patient.sensitive = sensitive
            self.list_day[serial] = _day(self.now)

    @rule(later=gaps, serial=patients, allowed=st.booleans())
    def sensitive(self, later: int, serial: int, allowed: bool) -> None:
        self._time_passes(later)
        got = self._outcome(
            lambda: cs.set_sensitive(self.conn, key_of(serial), allowed, now=self.now)
        )
        patient = self.model[serial]
        expected = {"unregistered": "not_registered", "withdrawn": "withdrawn"}
        assert got == expected.get(patient.status)
        if got is None:
            patient.sensitive = allowed

    @rule(later=gaps)
    def hospital_joins(self, later: int) -> None:
        self._time_passes(later)
        self._set_registry(registry(h4_since=_day(self.now)))
        joined = cs.record_hospital_joined(self.conn, self.registry, _day(self.now), now=self.now)
        assert joined == ([] if self.h4_joined else [H4])
        self.h4_joined = True

    def _time_passes(self, hours: int) -> None:
        """Each action comes `hours` after the previous one. When the clock passes 02:00 in
        Bangkok, the daily sync runs (the DAG's schedule; of several nights passed, only the
        last one's: the DAG does not catch up)."""
        before, self.now = self.now, self.now + timedelta(hours=hours)
        last_run = next_sync_time(self.now) - timedelta(days=1)
        if before < last_run:
            self._daily_sync(_day(last_run))

    def _daily_sync(self, day: Any) -> None:
        """The day's sync through the pipeline (daily_sync.run_daily_sync), then nothing
        stored contradicts the model and the day's rows came in where the model allows."""
        assert self.warehouse is not None
        if self.syncs == SYNCS_PER_EXAMPLE:
            return  # the example's budget is spent: the DAG is paused from here on
        self.conn.raw.close()  # type: ignore[attr-defined]  # the pipeline opens its own
        summaries = run_daily_sync(
            self.warehouse.settings,
            self.warehouse.settings.registry_dir,
            self.warehouse.extracts,
            day,
            PATIENTS,
            self.warehouse.dbt_paths,
        )
        self.conn = self.warehouse.open()
        self.syncs += 1
        assert {s["status"] for s in summaries} == {"loaded"}, summaries
        assert_nothing_stored_against(self.conn, self.model, self.warehouse.settings.landing_dir)
        assert_day_loaded(self.conn, self.model, day, [s["hospital_code"] for s in summaries])

    @invariant()
    def projection_agrees_with_the_log_and_the_model(self) -> None:
        if not hasattr(self, "conn"):
            return
        folded = reference_fold(self.conn)
        assert projection(self.conn) == folded
        for serial, patient in self.model.items():
            if patient.status == "unregistered":
                assert key_of(serial) not in folded
                continue
            status, scope, _senders, sensitive = folded[key_of(serial)]
            assert (status, scope, sensitive) == (patient.status, patient.scope, patient.sensitive)

    @invariant()
    def no_published_row_contradicts_the_model(self) -> None:
        if not hasattr(self, "conn"):
            return
        assert self.warehouse is not None
        allowed = assert_published_consistent(self.conn, self.model)
        if self.warehouse.backend == "postgres":
            with self.warehouse.api_session() as api:
                assert_api_consistent(api, self.conn, allowed)


@pytest.fixture(
    scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def example_warehouse(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ExampleWarehouse]:
    """The backend's template, built once by real dbt; every example works on a fresh copy."""
    root = tmp_path_factory.mktemp(f"consent_stateful_{request.param}")
    if request.param == "duckdb":
        warehouse = ExampleWarehouse(root)
        warehouse.build()
        yield warehouse
        return
    with throwaway_pg_database("healthlink_consent_stateful") as url:
        warehouse = ExampleWarehouse(root, url)
        try:
            warehouse.build()
            yield warehouse
        finally:
            warehouse.drop()


def test_random_consent_histories(example_warehouse: ExampleWarehouse) -> None:
    ConsentMachine.warehouse = example_warehouse
    ConsentMachine.TestCase.settings = settings(
        max_examples=10 if LONG else 3,
        stateful_step_count=30 if LONG else 12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    ConsentMachine.TestCase().runTest()
