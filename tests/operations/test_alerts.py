"""Alerts (warehouse.pipeline.alerts): raised from the ledger once per condition, hospital and
day into the outbox (ops.alert, ops.alert_delivery) by the daily run's closing step, drained to
a real webhook (http.server) and a real SMTP server (aiosmtpd); a sink that is down leaves the
delivery failed with its attempts and the run succeeds, and the next drain delivers it.

One small DuckDB warehouse per module; the days are written by the pipeline's own functions
(ops.record_batch, ops.record_dbt_tests, daily_run.close_day), no dbt run:
  day 1  A loaded (5 of 1,000 rows rejected), B and D loaded, C missing;
  day 2  A loaded with 100 of 1,000 rejected (20x its baseline), B quarantined, C missing
         again (two days in a row; it promises its data within 1 day), D failed; the day's
         dbt build has a failing test; A's DRUGALLERGY file gained a column (loaded under
         the `evolve` schema-drift policy).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiosmtpd.controller import Controller
from pydantic import SecretStr, ValidationError

from tests.support.cli_warehouse import cli_for
from tests.support.machine import START, TEST_KEY, throwaway_pg_database
from tests.support.uvicorn_server import free_port
from tests.support.warehouse_batches import prepare
from warehouse.hospital_registry import Contact, Registry
from warehouse.pipeline import alerts, late_run, ops, schema_drift
from warehouse.pipeline.daily_run import close_day
from warehouse.settings import LOADER_ROLE, Settings, url_for_role
from warehouse.storage.connection import connect
from warehouse.storage.schema import setup_warehouse

DAY1, DAY2, DAY3 = START, START + timedelta(days=1), START + timedelta(days=2)
HOSPITAL_HOOK = "HOSP_A"
NOW = datetime(2026, 11, 24, 3, 0)


@dataclass
class Received:
    """What the sinks got: webhook bodies by path, and raw emails."""

    posts: list[tuple[str, bytes]] = field(default_factory=list)
    mails: list[tuple[list[str], bytes]] = field(default_factory=list)


class _Hook(BaseHTTPRequestHandler):
    received: Received

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.posts.append((self.path, body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _webhook(port: int, received: Received) -> ThreadingHTTPServer:
    handler = type("Hook", (_Hook,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class _Mailbox:
    def __init__(self, received: Received) -> None:
        self.received = received

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.mails.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"


@dataclass
class World:
    settings: Settings
    registry: Registry
    codes: tuple[str, str, str, str]
    received: Received
    hook_port: int
    personal: set[str]
    dataset: Path

    def alert_rows(self) -> list[dict[str, Any]]:
        with connect(self.settings) as conn:
            return alerts.list_alerts(conn, None)

    def deliveries(self) -> list[tuple[str, str, str, int, str | None]]:
        with connect(self.settings) as conn:
            return conn.execute(
                "SELECT alert_id, route, status, attempts, last_error FROM ops.alert_delivery "
                "ORDER BY alert_id, route"
            ).fetchall()


def _personal_values(dataset: Path) -> set[str]:
    """National IDs and names of the synthetic patients (PERSON files with a header, UTF-8)."""
    values: set[str] = set()
    for path in dataset.glob("extracts/**/PERSON.txt"):
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            continue
        if not lines or not lines[0].startswith("HOSPCODE"):
            continue
        header = lines[0].split("|")
        for line in lines[1:]:
            row = dict(zip(header, line.split("|"), strict=False))
            values |= {row[k] for k in ("CID", "NAME", "LNAME") if len(row.get(k, "")) >= 4}
    return values


def _batch(code: str, day: Any, status: str, read: int = 1000, rejected: int = 0) -> Any:
    summary = ops.BatchSummary(code, day, status, batch_id=f"b-{code}-{day}", rows_read=read)
    if status == "loaded":
        summary.rows_loaded, summary.rows_rejected = read - rejected, rejected
        summary.entities = {"person": ops.EntityCounts(read, read - rejected, rejected, 0)}
    elif status == "quarantined":
        summary.reason_code, summary.rows_quarantined = "reject_threshold", read
    else:
        summary.reason_code = "error"
    return summary


def _close(world_settings: Settings, registry: Registry, day: Any) -> None:
    close_day(f"test__{day}", day, registry, world_settings)


def _two_days(settings: Settings, registry: Registry, codes: tuple[str, ...]) -> None:
    """Days 1 and 2 (the module's docstring), closed as the daily run closes them."""
    a, b, _, d = codes
    with connect(settings) as conn:
        for code in (a, b, d):
            ops.record_batch(conn, _batch(code, DAY1, "loaded", rejected=5), "day1")
        ops.record_batch(conn, _batch(a, DAY2, "loaded", rejected=100), "day2")
        ops.record_batch(conn, _batch(b, DAY2, "quarantined"), "day2")
        ops.record_batch(conn, _batch(d, DAY2, "failed"), "day2")
        # A loaded with a changed source under the `evolve` policy.
        drift = [schema_drift.SchemaChange("DRUGALLERGY", added=("+1 other",))]
        schema_drift.record_loaded(conn, a, DAY2, {"DRUGALLERGY": ("CID",)}, drift, "evolve", NOW)
    _close(settings, registry, DAY1)
    with connect(settings) as conn:
        ops.record_dbt_tests(
            conn,
            {
                "metadata": {"invocation_id": "inv-day2", "generated_at": f"{DAY2}T03:00:00"},
                "results": [
                    {"unique_id": "test.healthlink.not_null_x", "status": "fail", "failures": 3},
                    {"unique_id": "test.healthlink.unique_y", "status": "pass", "failures": 0},
                ],
            },
        )
    _close(settings, registry, DAY2)


def _expected(codes: tuple[str, ...]) -> set[tuple[str, str, Any]]:
    a, b, c, d = codes
    return {
        ("sla_breached", c, DAY1),  # never loaded, promised within 1 day
        ("dbt_test_failed", "*", DAY2),
        ("quarantined", b, DAY2),
        ("failed", d, DAY2),
        ("missing", c, DAY2),  # the second day in a row (one day missing raises nothing)
        ("reject_rate", a, DAY2),
        ("sla_breached", c, DAY2),
        ("schema_drift", a, DAY2),
    }


@pytest.fixture(scope="module")
def world(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("alerts")
    registry_dir = root / "registry"
    shutil.copytree(small_dataset / "registry", registry_dir)
    paths = sorted((registry_dir / "hospitals").glob("*.yml"))
    a, b, c, d = (p.stem for p in paths[:4])
    for path in paths:  # everyone participates from day 1
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        document["participating_since"] = (START - timedelta(days=30)).isoformat()
        if path.stem == a:
            document["contacts"][0]["alert_route"] = "email"
            document["contacts"].append(
                {"name": "Hospital A on call", "role": "ops", "alert_route": "webhook:HOSP_A"}
            )
        if path.stem == c:
            document["freshness_sla_days"] = 1
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    received = Received()
    hook_port = free_port()
    server = _webhook(hook_port, received)
    smtp = Controller(_Mailbox(received), hostname="127.0.0.1", port=free_port())
    smtp.start()
    hook = f"http://127.0.0.1:{hook_port}"
    os.environ[f"HEALTHLINK_ALERT_WEBHOOK_URL_{HOSPITAL_HOOK}"] = f"{hook}/hospital-a"
    settings = Settings(
        home=root / "home",
        registry_dir=registry_dir,
        pseudonym_key=TEST_KEY,  # type: ignore[arg-type]
        environment="test",
        alert_webhook_url=f"{hook}/ops",  # type: ignore[arg-type]
        alert_email_to="ops@example.org",
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        alert_backoff_s=0,
    )
    registry = prepare(settings, small_dataset)
    _two_days(settings, registry, (a, b, c, d))
    try:
        yield World(
            settings,
            registry,
            (a, b, c, d),
            received,
            hook_port,
            _personal_values(small_dataset),
            small_dataset,
        )
    finally:
        server.shutdown()
        server.server_close()
        smtp.stop()
        os.environ.pop(f"HEALTHLINK_ALERT_WEBHOOK_URL_{HOSPITAL_HOOK}", None)


def test_the_ledger_raises_each_condition_once_and_the_sinks_receive_them(world: World) -> None:
    a, c = world.codes[0], world.codes[2]
    raised = {(r["condition"], r["hospital_code"], r["extract_date"]) for r in world.alert_rows()}
    assert raised == _expected(world.codes)
    by_id = {r["alert_id"]: r for r in world.alert_rows()}
    assert by_id[f"reject_rate|{a}|{DAY2}"]["count"] == 100
    assert by_id[f"missing|{c}|{DAY2}"]["count"] == 2
    # Every delivery sent: the ops webhook and ops email for all, A's contacts for A's alert.
    deliveries = world.deliveries()
    assert {status for _, _, status, _, _ in deliveries} == {"sent"}
    a_routes = {route for alert_id, route, *_ in deliveries if alert_id.split("|")[1] == a}
    assert a_routes == {"webhook:default", "email:default", f"email:{a}/0", "webhook:HOSP_A"}
    a_alerts = sum(1 for _, code, _ in raised if code == a)  # reject rate and schema drift
    assert len(deliveries) == 2 * len(raised) + 2 * a_alerts

    ops_posts = [json.loads(body) for path, body in world.received.posts if path == "/ops"]
    assert sorted(p["alert_id"] for p in ops_posts) == sorted(by_id)
    hospital_posts = [json.loads(b) for path, b in world.received.posts if path == "/hospital-a"]
    assert sorted(p["condition"] for p in hospital_posts) == ["reject_rate", "schema_drift"]
    recipients = [rcpt for rcpts, _ in world.received.mails for rcpt in rcpts]
    assert recipients.count("ops@example.org") == len(raised)
    assert recipients.count(f"data-{a}@example.org") == a_alerts
    mail = message_from_bytes(world.received.mails[0][1])
    assert mail["Subject"].startswith("[Health Link] ")

    # Codes and counts only: no national ID or name of a synthetic patient anywhere.
    assert len(world.personal) > 100
    sent = [body.decode() for _, body in world.received.posts]
    sent += [raw.decode("utf-8", "replace") for _, raw in world.received.mails]
    for text in sent:
        assert not any(value in text for value in world.personal)


def test_a_rerun_of_the_day_raises_and_sends_nothing_again(world: World) -> None:
    before = (len(world.alert_rows()), len(world.received.posts), len(world.received.mails))
    _close(world.settings, world.registry, DAY2)
    after = (len(world.alert_rows()), len(world.received.posts), len(world.received.mails))
    assert after == before


def test_a_sink_that_is_down_fails_the_delivery_not_the_run_and_a_later_drain_sends(
    world: World,
) -> None:
    missing = world.codes[2]
    down_port = free_port()  # nothing listens there yet
    down = world.settings.model_copy(
        update={
            "alert_webhook_url": SecretStr(f"http://127.0.0.1:{down_port}/ops"),
            "alert_email_to": "",
        }
    )
    _close(down, world.registry, DAY3)  # returns: the sink's failure is recorded, not raised

    new = [r for r in world.deliveries() if r[0].endswith(f"|{DAY3}")]
    assert new and {(route, status, attempts) for _, route, status, attempts, _ in new} == {
        ("webhook:default", "failed", 1)
    }
    assert {error for *_, error in new} == {"ConnectError"}
    assert {f"missing|{missing}|{DAY3}", f"sla_breached|{missing}|{DAY3}"} <= {r[0] for r in new}

    received: Received = Received()
    server = _webhook(down_port, received)  # the sink is back
    try:
        with connect(down) as conn:
            assert alerts.drain(conn, world.registry, down) == {
                "sent": len(new),
                "failed": 0,
                "dead": 0,
            }
            assert alerts.drain(conn, world.registry, down) == {"sent": 0, "failed": 0, "dead": 0}
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(json.loads(body)["alert_id"] for _, body in received.posts) == sorted(
        alert_id for alert_id, *_ in new
    )
    done = [r for r in world.deliveries() if r[0].endswith(f"|{DAY3}")]
    assert {(status, attempts) for _, _, status, attempts, _ in done} == {("sent", 2)}


def test_the_cli_lists_the_alerts_with_their_delivery_status(world: World) -> None:
    env = {
        **cli_for("duckdb", world.settings).env,
        "HEALTHLINK_ALERT_WEBHOOK_URL": "",
        "COLUMNS": "200",
    }
    command = [str(Path(".venv/bin/healthlink").resolve()), "ops", "alerts"]
    listed = subprocess.run(
        [*command, "--since", DAY2.isoformat(), "--json", "--deliver"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert data["delivered"] == {"sent": 0, "failed": 0, "dead": 0}
    assert {row["extract_date"] for row in data["alerts"]} == {str(DAY2), str(DAY3)}
    assert all(row["pending"] == 0 and row["failed"] == 0 for row in data["alerts"])
    table = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert table.returncode == 0, table.stderr
    assert "reject_rate" in table.stdout and world.codes[0] in table.stdout


def test_a_late_run_raises_run_late_once_through_the_outbox(world: World) -> None:
    """What the DAG's DeadlineAlert callback does with the DAG run Airflow hands it."""
    dag_run = {"logical_date": "2026-11-25T19:00:00Z", "conf": {}}  # 02:00 on the 26th, Bangkok
    day = late_run.run_day(dag_run)
    assert day == DAY3 + timedelta(days=1)
    assert late_run.run_day({**dag_run, "conf": {"extract_date": str(DAY2)}}) == DAY2
    posts = len(world.received.posts)
    assert late_run.raise_run_late(day, world.settings, world.registry) == 1
    assert late_run.raise_run_late(day, world.settings, world.registry) == 0
    late = [json.loads(body) for _, body in world.received.posts[posts:]]
    assert [(p["condition"], p["hospital_code"], p["extract_date"]) for p in late] == [
        ("run_late", "*", str(day))
    ]


@pytest.mark.postgres
def test_on_postgresql_the_loader_role_raises_and_delivers(world: World, tmp_path: Path) -> None:
    """finish_run's closing step runs as healthlink_loader in production: its grants cover
    the outbox (insert the alerts, update the deliveries)."""
    with throwaway_pg_database("healthlink_alerts") as url:
        owner = world.settings.model_copy(update={"warehouse": url, "home": tmp_path / "home"})
        setup_warehouse(owner)  # as `healthlink migrate` leaves a deployment
        prepare(owner, world.dataset)
        loader = owner.model_copy(update={"warehouse": url_for_role(url, LOADER_ROLE)})
        posts = len(world.received.posts)
        _two_days(loader, world.registry, world.codes)
        with connect(owner) as conn:
            rows = alerts.list_alerts(conn, None)
            statuses = conn.execute("SELECT DISTINCT status FROM ops.alert_delivery").fetchall()
    assert {(r["condition"], r["hospital_code"], r["extract_date"]) for r in rows} == _expected(
        world.codes
    )
    assert statuses == [("sent",)]
    ops_posts = [p for p, _ in world.received.posts[posts:] if p == "/ops"]
    assert len(ops_posts) == len(rows)


def test_a_contact_alert_route_is_validated() -> None:
    """The YAML names a route, never a URL or a secret; an email route needs an address."""
    assert Contact(name="x", role="ops", alert_route="webhook:ON_CALL").alert_route
    for route in ("webhook:https://hooks.example.org/x", "sms", "webhook:"):
        with pytest.raises(ValidationError):
            Contact(name="x", role="ops", alert_route=route)
    with pytest.raises(ValidationError, match="needs the contact's email"):
        Contact(name="x", role="ops", alert_route="email")
