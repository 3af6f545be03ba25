"""The daily sync's steps, callable from the Airflow DAG and from the CLI alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import structlog

from warehouse.clock import after_today, storage_now
from warehouse.consent import sender_choice
from warehouse.hospital_registry import Registry, load_registry
from warehouse.pipeline import alerts, metrics_snapshot, ops
from warehouse.pipeline.batch import record_failure, sync_batch
from warehouse.pipeline.transform import publish, run_dbt
from warehouse.settings import Settings, get_settings
from warehouse.storage.connection import connect
from warehouse.storage.protocol import WarehouseConnection
from warehouse.storage.schema import setup_schema

log = structlog.get_logger(__name__)


class RunFailed(RuntimeError):
    """The day's run must not read green: a hospital failed, was never processed, or the run
    published nothing. The message carries hospital codes and counts, never personal data."""


@dataclass(frozen=True)
class RunVerdict:
    loaded: list[str]
    quarantined: dict[str, str]  # hospital code -> reason code (a missing extract included)
    failed: list[str]  # an unexpected error in the hospital's task
    not_processed: list[str]  # participating, but no batch recorded by this run
    published: bool

    @property
    def ok(self) -> bool:
        return self.published and not self.failed and not self.not_processed

    def to_dict(self) -> dict[str, Any]:
        return {
            "loaded": len(self.loaded),
            "quarantined": self.quarantined,
            "failed": self.failed,
            "not_processed": self.not_processed,
            "published": self.published,
        }


def _registry(registry_dir: Path | None, settings: Settings) -> Registry:
    return load_registry(registry_dir or settings.registry_dir)


def prepare_run(
    extract_date: date, registry_dir: Path | None = None, settings: Settings | None = None
) -> list[str]:
    """Mirror the registry, apply consent's effects; return the hospitals participating that day.

    Consent's effects run before any hospital loads (warehouse.consent.effects):
    hospitals joining (notifications), expired per-visit requests, the purge of what consent
    no longer allows (raw, marts, landing) and the day's full-history requests.
    """
    from warehouse.consent.effects import apply_before_sync

    if after_today(extract_date):
        # No hospital has tomorrow's extract, and hospitals would join before their date.
        raise ValueError(f"extract date {extract_date} is after today (Asia/Bangkok)")
    settings = settings or get_settings()
    registry = _registry(registry_dir, settings)
    with connect(settings) as conn:
        setup_schema(conn)  # the run's first-run setup (PostgreSQL: checks the migration)
        sender_choice.sync_hospitals(conn, registry)
        apply_before_sync(conn, registry, extract_date, settings.landing_dir)
    return [h.hospital_code for h in registry.participating(extract_date)]


# Below Airflow's max_map_length (1024), with room for a region's growth within a run.
MAX_HOSPITALS_PER_MAP = 1000


class RegionTooLarge(RuntimeError):
    """More hospitals in a region than its parts can map: add parts, never drop hospitals."""


def region_hospitals(
    extract_date: date,
    region: int,
    part: int,
    parts: int,
    registry_dir: Path | None = None,
    settings: Settings | None = None,
) -> list[str]:
    """Part `part` of `parts` of the region's participating hospitals, in code order, each
    part at most MAX_HOSPITALS_PER_MAP long (consecutive slices, so a hospital's part stays
    stable while the region is small)."""
    settings = settings or get_settings()
    codes = [
        h.hospital_code
        for h in _registry(registry_dir, settings).participating_in_region(extract_date, region)
    ]
    if len(codes) > MAX_HOSPITALS_PER_MAP * parts:
        raise RegionTooLarge(
            f"health region {region}: {len(codes)} hospitals exceed {parts} parts of "
            f"{MAX_HOSPITALS_PER_MAP}; raise PARTS_PER_REGION in the DAG"
        )
    return codes[part * MAX_HOSPITALS_PER_MAP : (part + 1) * MAX_HOSPITALS_PER_MAP]


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
    run_id: str,
    extract_date: date,
    settings: Settings | None = None,
    registry_dir: Path | None = None,
) -> list[dict[str, Any]]:
    """Publish what dbt built, write the run summary (per hospital), the day's ledger
    (ops.hospital_day) and the alerts it raises (ops.alert, in the ledger's transaction) into
    ops, then drain the alert outbox (a failing sink is recorded, never raised)."""
    settings = settings or get_settings()
    registry = _registry(registry_dir, settings)
    publish(settings)
    return close_day(run_id, extract_date, registry, settings)


def close_day(
    run_id: str, extract_date: date, registry: Registry, settings: Settings
) -> list[dict[str, Any]]:
    """What finish_run records once the day is published: the run summary, the ledger and its
    alerts in one transaction, then the outbox's drain and the metrics snapshot. Returns the
    run summary's rows."""
    recorded_at = storage_now()
    with connect(settings) as conn:
        rows = ops.record_run_summary(conn, run_id, extract_date, recorded_at)
        with conn.transaction():
            record_ledger(conn, registry, extract_date, run_id, recorded_at)
            alerts.raise_alerts(conn, extract_date, registry, settings)
        alerts.drain(conn, registry, settings)
        metrics_snapshot.refresh(conn, settings)
    return rows


def record_ledger(
    conn: WarehouseConnection,
    registry: Registry,
    extract_date: date,
    run_id: str,
    recorded_at: datetime,
) -> None:
    """The day's ledger: every hospital participating that day (by the registry, so a
    backfilled day expects who participated then) and any other with a batch that day."""
    arrived = ops.batch_codes(conn, extract_date)
    promises = [
        ops.Promise(
            hospital_code=h.hospital_code,
            expected=h.participates_on(extract_date),
            participating_since=h.participating_since,
            freshness_sla_days=h.freshness_sla_days,
        )
        for h in sorted(registry.hospitals.values(), key=lambda h: h.hospital_code)
        if h.participates_on(extract_date) or h.hospital_code in arrived
    ]
    ops.record_hospital_days(conn, extract_date, promises, run_id, recorded_at)


def judge_run(
    run_id: str,
    extract_date: date,
    registry_dir: Path | None = None,
    settings: Settings | None = None,
) -> RunVerdict:
    """The run's outcome from what it recorded, not from the scheduler's view of its tasks:
    every hospital participating that day must have a batch recorded by this run, none may
    have failed, and the run summary must exist (publish ran). Quarantined and missing
    extracts are outcomes, not failures (some of 1,100 hospitals are late every day)."""
    settings = settings or get_settings()
    expected = [
        h.hospital_code for h in _registry(registry_dir, settings).participating(extract_date)
    ]
    with connect(settings) as conn:
        outcomes = ops.batch_outcomes(conn, extract_date, run_id)
        summarised = conn.execute(
            "SELECT count(*) FROM ops.run_summary WHERE run_id = ?", [run_id]
        ).fetchone()
    verdict = RunVerdict(
        loaded=[c for c in expected if outcomes.get(c, ("",))[0] == "loaded"],
        quarantined={
            c: outcomes[c][1] or "unknown"
            for c in expected
            if c in outcomes and outcomes[c][0] == "quarantined"
        },
        failed=[c for c in expected if c in outcomes and outcomes[c][0] == "failed"],
        not_processed=[c for c in expected if c not in outcomes],
        published=bool(expected) and bool(summarised and summarised[0]),
    )
    log.info("run_judged", run_id=run_id, extract_date=str(extract_date), **verdict.to_dict())
    return verdict


def raise_unless_green(verdict: RunVerdict) -> None:
    if verdict.ok:
        return
    problems = []
    if verdict.failed:
        problems.append(f"{len(verdict.failed)} hospital(s) failed: {', '.join(verdict.failed)}")
    if verdict.not_processed:
        problems.append(
            f"{len(verdict.not_processed)} participating hospital(s) not processed: "
            + ", ".join(verdict.not_processed[:50])
        )
    if not verdict.published:
        problems.append("nothing was published (no participating hospital, or publish failed)")
    raise RunFailed("; ".join(problems))


def daily_run_id(extract_date: date) -> str:
    return f"cli-{extract_date.isoformat()}"


def run_daily_sync(
    extract_date: date, registry_dir: Path | None = None, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """The whole day without Airflow, one hospital after another."""
    settings = settings or get_settings()
    run_id = daily_run_id(extract_date)
    for code in prepare_run(extract_date, registry_dir, settings):
        try:
            sync_hospital(code, extract_date, run_id, registry_dir, settings)
        except Exception:  # isolated: recorded in ops.batch, the others carry on
            continue
    run_dbt(["build"], settings)
    return finish_run(run_id, extract_date, settings, registry_dir)
