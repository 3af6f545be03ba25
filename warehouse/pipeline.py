"""The daily sync's steps, callable from the Airflow DAG and from the CLI alike."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import structlog

from warehouse import consent, ops
from warehouse.db import connect
from warehouse.registry import Registry, load_registry
from warehouse.settings import Settings, get_settings
from warehouse.sync import record_failure, sync_batch
from warehouse.transform import publish, run_dbt

log = structlog.get_logger(__name__)


def _registry(registry_dir: Path | None, settings: Settings) -> Registry:
    return load_registry(registry_dir or settings.registry_dir)


def prepare_run(
    extract_date: date, registry_dir: Path | None = None, settings: Settings | None = None
) -> list[str]:
    """Mirror the registry, apply consent's effects; return the hospitals participating that day.

    Consent's effects run before any hospital loads (warehouse.consent_service.effects):
    hospitals joining (notifications), expired per-visit requests, the purge of what consent
    no longer allows (raw, marts, landing) and the day's full-history requests.
    """
    from warehouse.consent_service.effects import apply_before_sync

    settings = settings or get_settings()
    registry = _registry(registry_dir, settings)
    with connect(settings) as conn:
        consent.sync_hospitals(conn, registry)
        apply_before_sync(conn, registry, extract_date, settings.landing_dir)
    return [h.hospital_code for h in registry.participating(extract_date)]


def sync_hospital(
    hospital_code: str,
    extract_date: date,
    run_id: str,
    registry_dir: Path | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """One hospital's batch; returns counts only (safe for XCom)."""
    settings = settings or get_settings()
    registry = _registry(registry_dir, settings)
    try:
        summary = sync_batch(
            registry.hospital(hospital_code), extract_date, run_id=run_id, settings=settings
        )
    except Exception as error:
        log.error("batch_failed", hospital=hospital_code, error_type=type(error).__name__)
        record_failure(hospital_code, extract_date, run_id, error, settings)
        raise
    return summary.to_dict()


def finish_run(
    run_id: str, extract_date: date, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Publish what dbt built and write the run summary (per hospital) into ops."""
    settings = settings or get_settings()
    publish(settings)
    with connect(settings) as conn:
        return ops.record_run_summary(conn, run_id, extract_date, datetime.now())


def run_daily_sync(
    extract_date: date, registry_dir: Path | None = None, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """The whole day without Airflow, one hospital after another."""
    settings = settings or get_settings()
    run_id = f"cli-{extract_date.isoformat()}"
    for code in prepare_run(extract_date, registry_dir, settings):
        try:
            sync_hospital(code, extract_date, run_id, registry_dir, settings)
        except Exception:  # isolated: recorded in ops.batch, the others carry on
            continue
    run_dbt(["build"], settings)
    return finish_run(run_id, extract_date, settings)
