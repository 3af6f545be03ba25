"""`healthlink backfill --hospital CODE --from D1 --to D2`: one hospital's days, again.

Each day goes through the DAG's own hospital step (`warehouse.pipeline.daily_run.sync_hospital`:
consent filter, validate, land, load, a failure recorded in ops.batch), then one dbt build
for the pairs the days queued and, per day, the DAG's publish step (`finish_run`: publish, the
run summary and the day's operations ledger). A load
replaces the hospital's day and identical content keeps its first-received time, so running
a backfill twice leaves the warehouse as once.

Exit 0 when every day loaded or was quarantined (a quarantine is an outcome the hospital acts
on, reported with its reason), 1 when any day failed or the build failed, 2 for a refusal
before any work (unknown hospital, D1 after D2, a day before the hospital participates).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from warehouse.cli.common import (
    ROW_COUNTS,
    HospitalOption,
    JsonFlag,
    RegistryOption,
    console,
    emit_json,
    err_console,
    extract_date,
    load_registry,
    registered_hospital,
    table,
)

if TYPE_CHECKING:
    from warehouse.settings import Settings

FromOption = Annotated[str, typer.Option("--from", help="First extract date, YYYY-MM-DD")]
ToOption = Annotated[str, typer.Option("--to", help="Last extract date, YYYY-MM-DD")]


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def backfill(
    hospital: HospitalOption,
    from_: FromOption,
    to: ToOption,
    registry: RegistryOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Re-run one hospital's extract dates through the daily sync, then dbt and publish."""
    first, last = extract_date(from_), extract_date(to)  # refusals before the heavy imports
    if first > last:
        raise typer.BadParameter(f"--from {first} is after --to {last}", param_hint="--from")
    loaded_registry = load_registry(registry)
    chosen = registered_hospital(loaded_registry, hospital)
    if not chosen.participates_on(first):
        since = chosen.participating_since
        raise typer.BadParameter(
            f"hospital {hospital} does not participate on {first} (participating_since: "
            f"{since or 'not set'}); backfill from {since} at the earliest"
            if since
            else f"hospital {hospital} does not participate yet (participating_since: not set)",
            param_hint="--from",
        )

    from warehouse.consent.sender_choice import sync_hospitals
    from warehouse.pipeline.daily_run import finish_run
    from warehouse.pipeline.transform import TransformError, publish, run_dbt
    from warehouse.settings import get_settings
    from warehouse.storage.connection import connect
    from warehouse.storage.schema import setup_schema

    settings = get_settings()
    with connect(settings) as conn:
        setup_schema(conn)  # first-run setup, as `ingest` and the DAG's prepare do
        sync_hospitals(conn, loaded_registry)

    days = days_between(first, last)
    outcomes: list[dict[str, Any]] = []
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,  # stdout stays clean for --json
    ) as progress:
        bar = progress.add_task(f"backfill {hospital}", total=len(days))
        for day in days:
            progress.update(bar, description=f"backfill {hospital} {day}")
            outcomes.append(_sync_day(hospital, day, registry, settings))
            progress.advance(bar)

    build_failed = False
    published = 0
    if any(o["status"] == "loaded" for o in outcomes):
        try:
            # The DAG's dbt group; --json keeps stdout for the JSON.
            run_dbt(["build", *(["--quiet"] if json_output else [])], settings)
        except TransformError as error:
            build_failed = True
            err_console.print(f"[red]dbt build failed[/red]: {error}")
    if not build_failed:
        published = publish(settings)
        # The DAG's publish_and_summarize, per day: the run summary and the day's ledger
        # (ops.hospital_day, which also refreshes later days' freshness).
        for day in days:
            finish_run(_run_id(day), day, settings, registry)

    failed = [o for o in outcomes if o["status"] == "failed"]
    if json_output:
        emit_json({"days": outcomes, "published_pairs": published, "build_failed": build_failed})
    else:
        console.print(
            table(
                f"Backfill {hospital} {first} to {last}",
                outcomes,
                ["extract_date", "status", "rows_read", "rows_loaded", "rows_rejected", "reason"],
            )
        )
        console.print(
            f"{len(outcomes) - len(failed)} of {len(outcomes)} day(s) done, "
            f"{sum(o['status'] == 'quarantined' for o in outcomes)} quarantined, "
            f"{len(failed)} failed; {published} hospital-day(s) published"
        )
    if failed or build_failed:
        raise typer.Exit(1)


def _run_id(day: date) -> str:
    return f"backfill-{day.isoformat()}"


def _sync_day(
    hospital: str, day: date, registry_dir: Path | None, settings: Settings
) -> dict[str, Any]:
    """One day through the DAG's hospital step. An unexpected error is already recorded in
    ops.batch by that step; here it becomes the day's `failed` row (its type only: an error's
    message may quote the source)."""
    from warehouse.pipeline.daily_run import sync_hospital

    try:
        summary = sync_hospital(hospital, day, _run_id(day), registry_dir, settings)
    except Exception as error:
        return {
            "extract_date": day.isoformat(),
            "status": "failed",
            "reason": f"{type(error).__name__} (see the log)",
        }
    return {
        key: summary.get(key)
        for key in (
            "extract_date",
            "status",
            *ROW_COUNTS,
            "reason_code",
            "reason",
        )
    }
