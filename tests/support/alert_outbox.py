"""A fresh DuckDB warehouse with one alert in the outbox, for the delivery tests
(tests/operations/test_alert_retries.py, test_alert_smtp.py): the alert is recorded by the
pipeline's own `record_alerts`, so the deliveries are the routes its settings give."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from tests.support.machine import START, TEST_KEY
from warehouse.pipeline import alerts
from warehouse.settings import Settings
from warehouse.storage.connection import connect
from warehouse.storage.schema import setup_warehouse

RAISED_AT = datetime(2026, 11, 24, 3, 0)
ALERT = alerts.Alert("quarantined", "10001", START, 1000, "reject_rate")


def outbox_with_one_alert(home: Path, registry_dir: Path, **alert_settings: Any) -> Settings:
    settings = Settings(
        home=home,
        registry_dir=registry_dir,
        pseudonym_key=TEST_KEY,  # type: ignore[arg-type]
        environment="test",
        **alert_settings,
    )
    setup_warehouse(settings)
    with connect(settings) as conn:
        assert alerts.record_alerts(conn, [ALERT], None, settings, RAISED_AT) == 1
    return settings


def drain(settings: Settings, now: datetime | None = None) -> dict[str, int]:
    with connect(settings) as conn:
        return alerts.drain(conn, None, settings, now)


def deliveries(settings: Settings) -> list[tuple[Any, ...]]:
    with connect(settings) as conn:
        return conn.execute(
            "SELECT route, status, attempts, last_error, next_attempt_at FROM ops.alert_delivery "
            "ORDER BY route"
        ).fetchall()
