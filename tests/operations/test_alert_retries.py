"""Bounded alert retries (warehouse.pipeline.alerts.drain) against a real HTTP sink that
answers 503 to everything: each drain tries only what is due, the wait doubles per attempt up
to its cap, and after `alert_max_attempts` the delivery is 'dead' and never tried again; the
metrics and `healthlink ops alerts` count it."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.alert_outbox import RAISED_AT, deliveries, drain, outbox_with_one_alert
from tests.support.cli_warehouse import cli_for
from tests.support.scrape import collect
from tests.support.uvicorn_server import free_port
from warehouse.pipeline import alerts

MAX_ATTEMPTS = 4


class _Unavailable(BaseHTTPRequestHandler):
    posts: list[str]

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.posts.append(self.path)
        self.send_response(503)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def failing_sink() -> Iterator[tuple[str, list[str]]]:
    posts: list[str] = []
    handler = type("Unavailable", (_Unavailable,), {"posts": posts})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/ops", posts
    finally:
        server.shutdown()
        server.server_close()


def test_a_failing_sink_is_retried_with_backoff_then_the_delivery_is_dead(
    failing_sink: tuple[str, list[str]], small_dataset: Path, tmp_path: Path
) -> None:
    url, posts = failing_sink
    settings = outbox_with_one_alert(
        tmp_path / "home",
        small_dataset / "registry",
        alert_webhook_url=url,
        alert_backoff_s=60,
        alert_backoff_max_s=200,
        alert_max_attempts=MAX_ATTEMPTS,
    )
    # Attempt n fails and waits 60 x 2^(n-1) s, capped at 200 s: 60, 120, 200.
    now = RAISED_AT
    for attempt, wait in enumerate([60, 120, 200], start=1):
        assert drain(settings, now) == {"sent": 0, "failed": 1, "dead": 0}
        # Not due yet: a drain a second before the backoff ends sends nothing.
        early = now + timedelta(seconds=wait - 1)
        assert drain(settings, early) == {"sent": 0, "failed": 0, "dead": 0}
        now += timedelta(seconds=wait)
        assert deliveries(settings) == [
            ("webhook:default", "failed", attempt, "HTTPStatusError", now)
        ]
    assert drain(settings, now) == {"sent": 0, "failed": 0, "dead": 1}
    # Dead is final: however late, no drain tries it again.
    assert drain(settings, now + timedelta(days=30)) == {"sent": 0, "failed": 0, "dead": 0}
    [(_, status, attempts, error, _)] = deliveries(settings)
    assert (status, attempts, error) == ("dead", MAX_ATTEMPTS, "HTTPStatusError")
    assert posts == ["/ops"] * MAX_ATTEMPTS  # the sink saw each attempt, and no more

    listed = subprocess.run(
        [str(Path(".venv/bin/healthlink").resolve()), "ops", "alerts", "--json", "--deliver"],
        capture_output=True,
        text=True,
        env={**cli_for("duckdb", settings).env, "HEALTHLINK_ALERT_WEBHOOK_URL": url},
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert data["delivered"] == {"sent": 0, "failed": 0, "dead": 0}
    [row] = data["alerts"]
    assert (row["dead"], row["failed"], row["attempts"]) == (1, 0, MAX_ATTEMPTS)
    assert url not in listed.stdout + listed.stderr

    # The drain by the CLI also refreshes what a scrape shows (on DuckDB, a snapshot).
    values = collect(settings)
    states = {
        state: values[("healthlink_alert_deliveries", (("state", state),))]
        for state in alerts.DELIVERY_STATES
    }
    assert states == {"pending": 0, "failed": 0, "sent": 0, "dead": 1}
