"""Random consent histories: the projection and the published views agree with the log.

A reference model, written independently of the service (plain dicts, its own day
arithmetic), predicts whether each action is accepted and the resulting state. After every
step: the service's decision matched the model's, the projection tables equal the state
folded from consent.event by the model's own fold, and no published row contradicts it.
Steps include the daily sync's purge. 8 examples x 8 steps by default;
HEALTHLINK_TEST_LONG=1 runs 200 x 30.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from tests.consent.kit import H1, H2, H3, H4, KEY, key_of, registration, registry
from tests.consent.published import (
    PATIENTS,
    ModelPatient,
    assert_published_consistent,
    build_published_warehouse,
)
from warehouse import consent_service as cs
from warehouse.consent_service import ConsentRefused, SenderChoice
from warehouse.consent_service.purge import purgeable_tables
from warehouse.db import DuckDBConnection

LONG = os.environ.get("HEALTHLINK_TEST_LONG") == "1"
BKK = ZoneInfo("Asia/Bangkok")
START = datetime(2025, 2, 10, 3, 0, tzinfo=UTC)  # 10:00 in Bangkok

choices = st.one_of(
    st.just(SenderChoice.everyone()),
    st.builds(
        SenderChoice.of,
        st.sets(st.sampled_from(["NET01", "NET02"]), max_size=2),
        st.sets(st.sampled_from([H1, H2, H3]), max_size=2),
    ),
)
patients = st.sampled_from(PATIENTS)


def _day(moment: datetime) -> Any:
    return moment.astimezone(BKK).date()


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
    template: Path | None = None  # the dbt-built warehouse, copied for every example
    workdir: Path | None = None

    @initialize()
    def open_warehouse(self) -> None:
        assert self.template is not None and self.workdir is not None
        self.path = self.workdir / f"example-{id(self)}.duckdb"
        shutil.copy(self.template, self.path)
        self.raw = duckdb.connect(str(self.path))
        self.conn = DuckDBConnection(self.raw)
        cs.ensure_consent_tables(self.conn)
        # The published check is not vacuous: the copy holds the built marts.
        assert self.conn.execute("SELECT count(*) FROM marts.fct_diagnosis").fetchone()[0] > 0
        self.now = START
        self.h4_joined = False
        self.model = {serial: ModelPatient() for serial in PATIENTS}
        self.list_day: dict[int, Any] = {}
        self.withdrawn_day: dict[int, Any] = {}
        self.registry = registry(h4_since=None)
        cs.record_hospital_joined(self.conn, self.registry, _day(self.now), now=self.now)

    def teardown(self) -> None:
        if hasattr(self, "raw"):
            self.raw.close()
            self.path.unlink(missing_ok=True)

    def _outcome(self, action: Any) -> str | None:
        try:
            action()
        except ConsentRefused as refusal:
            return refusal.reason_code
        return None

    def _valid(self, choice: SenderChoice) -> bool:
        return choice.scope == "ALL" or bool(choice.networks or choice.hospitals)

    @rule(serial=patients, choice=choices, sensitive=st.booleans())
    def register(self, serial: int, choice: SenderChoice, sensitive: bool) -> None:
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

    @rule(serial=patients, choice=choices)
    def change_sources(self, serial: int, choice: SenderChoice) -> None:
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

    @rule(serial=patients)
    def withdraw(self, serial: int) -> None:
        got = self._outcome(lambda: cs.withdraw(self.conn, key_of(serial), now=self.now))
        patient = self.model[serial]
        expected = {"unregistered": "not_registered", "withdrawn": "already_withdrawn"}
        assert got == expected.get(patient.status)
        if got is None:
            patient.status = "withdrawn"
            self.withdrawn_day[serial] = _day(self.now)

    @rule(serial=patients, sensitive=st.booleans())
    def rejoin(self, serial: int, sensitive: bool) -> None:
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

    @rule(serial=patients, allowed=st.booleans())
    def sensitive(self, serial: int, allowed: bool) -> None:
        got = self._outcome(
            lambda: cs.set_sensitive(self.conn, key_of(serial), allowed, now=self.now)
        )
        patient = self.model[serial]
        expected = {"unregistered": "not_registered", "withdrawn": "withdrawn"}
        assert got == expected.get(patient.status)
        if got is None:
            patient.sensitive = allowed

    @rule()
    def hospital_joins(self) -> None:
        self.registry = registry(h4_since=_day(self.now))
        joined = cs.record_hospital_joined(self.conn, self.registry, _day(self.now), now=self.now)
        assert joined == ([] if self.h4_joined else [H4])
        self.h4_joined = True

    @rule()
    def daily_sync(self) -> None:
        """The sync's consent step (warehouse.consent_service.effects): purge, then nothing
        stored in raw or marts belongs to a pair the model (not the service) disallows."""
        assert self.workdir is not None
        cs.purge(self.conn, self.workdir / "landing")
        networks = dict(
            self.conn.execute("SELECT hospital_code, network_code FROM consent.hospital").fetchall()
        )
        by_key = {key_of(serial): patient for serial, patient in self.model.items()}
        for table, column in purgeable_tables(self.conn):
            for key, hospital in self.conn.execute(
                f"SELECT DISTINCT patient_key, {column} FROM {table}"
            ).fetchall():
                patient = by_key.get(key)
                assert patient is not None and patient.allows(hospital, networks.get(hospital)), (
                    table
                )

    @rule(hours=st.sampled_from([1, 6, 13, 24, 31]))
    def time_passes(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

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
        assert_published_consistent(self.conn, self.model)


@pytest.fixture(scope="module")
def published_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_published_warehouse(tmp_path_factory.mktemp("consent_published"))


def test_random_consent_histories(published_template: Path, tmp_path: Path) -> None:
    ConsentMachine.template = published_template
    ConsentMachine.workdir = tmp_path
    machine_settings = settings(
        max_examples=200 if LONG else 8,
        stateful_step_count=30 if LONG else 8,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    ConsentMachine.TestCase.settings = machine_settings
    ConsentMachine.TestCase().runTest()
