"""The late daily run: the DAG's DeadlineAlert calls `run_late_callback` (in the triggerer)
when a run has not finished by its deadline; it raises `run_late` through the alert outbox
(warehouse.pipeline.alerts), once per day, and drains it."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

import structlog

from warehouse.clock import bangkok_day
from warehouse.hospital_registry import Registry
from warehouse.pipeline import metrics_snapshot
from warehouse.pipeline.alerts import PLATFORM, Alert, drain, record_alerts
from warehouse.settings import Settings, get_settings
from warehouse.storage.connection import connect

log = structlog.get_logger(__name__)


def raise_run_late(day: date, settings: Settings, registry: Registry | None = None) -> int:
    """The daily run of `day` has not finished by its deadline (the DAG's DeadlineAlert): raise
    `run_late` (once per day) and drain the outbox. Returns 1 if the alert is new."""
    with connect(settings) as conn:
        new = record_alerts(
            conn, [Alert("run_late", PLATFORM, day, None, "deadline")], None, settings
        )
        drain(conn, registry, settings)
        metrics_snapshot.refresh(conn, settings)
    return new


def run_day(dag_run: dict[str, Any]) -> date:
    """The extract date of a DAG run as the DAG resolves it: the `extract_date` param (conf),
    else the logical date in Bangkok."""
    override = (dag_run.get("conf") or {}).get("extract_date")
    if override:
        return date.fromisoformat(str(override))
    return bangkok_day(datetime.fromisoformat(str(dag_run["logical_date"]).replace("Z", "+00:00")))


async def run_late_callback(context: dict[str, Any] | None = None, **_: Any) -> None:
    """The DeadlineAlert's callback (Airflow runs it in the triggerer, with a simple context:
    the DAG run as JSON). The write runs in a thread; a failure is logged, never raised."""
    try:
        day = run_day((context or {})["dag_run"])
        await asyncio.to_thread(raise_run_late, day, get_settings())
    except Exception as error:
        log.error("run_late_alert_failed", error_type=type(error).__name__)
