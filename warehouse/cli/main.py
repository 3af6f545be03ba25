"""`healthlink`: the data engineer's command line (no Airflow needed).

Every command prints a rich table for people, or JSON with `--json` for machines.
Nothing personal is printed: counts, codes, file names, line numbers and reasons.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated

import typer

from warehouse.cli import common
from warehouse.cli import consent as consent_cli

app = typer.Typer(help="Health Link data platform", no_args_is_help=True, add_completion=False)
# Consent goes through the consent service only (warehouse/cli/consent.py, docs/consent.md).
app.add_typer(consent_cli.app, name="consent")
err_console = common.err_console


def main() -> None:
    """The `healthlink` console script. A misconfigured environment (production is the default,
    and its secrets must be set) is a clear error naming the setting, never a traceback: the
    traceback would print pydantic's input, every setting read from the environment, secrets
    included."""
    from pydantic import ValidationError

    try:
        app()
    except ValidationError as error:
        if not error.title.endswith("Settings"):
            raise
        for problem in error.errors(include_url=False, include_input=False, include_context=False):
            where = ".".join(str(part) for part in problem["loc"]) or error.title
            err_console.print(f"[red]configuration error[/red] ({where}): {problem['msg']}")
        raise SystemExit(2) from None


@app.callback()
def _setup() -> None:
    from warehouse.logs import configure_logging

    configure_logging()


# Shared with the command modules (warehouse/cli/common.py).
console = common.console
JsonFlag = common.JsonFlag
DateOption = common.DateOption
RegistryOption = common.RegistryOption
_emit_json = common.emit_json
_table = common.table
_parse_date = common.parse_date
_extract_date = common.extract_date
_registry = common.load_registry


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Output directory")] = Path(".demo"),
    hospitals: int = 5,
    patients: int = 1000,
    days: int = 2,
    start: Annotated[str, typer.Option(help="First extract date, YYYY-MM-DD")] = "2026-11-23",
    seed: int = 42,
    error_rate: float = 0.0,
    visits_per_patient: float = 6.0,
    json_output: JsonFlag = False,
) -> None:
    """Generate synthetic hospitals, 43-file extracts and consent registrations."""
    from synthetic import generate_dataset

    manifest = generate_dataset(
        out,
        hospitals=hospitals,
        patients=patients,
        days=days,
        start_date=_parse_date(start),
        seed=seed,
        error_rate=error_rate,
        visits_per_patient=visits_per_patient,
    )
    if json_output:
        _emit_json(manifest)
    else:
        console.print(f"[green]generated[/green] {out} ({json.dumps(manifest.get('totals', {}))})")


@app.command()
def check(registry: RegistryOption = None, json_output: JsonFlag = False) -> None:
    """Validate the hospital registry (every YAML file)."""
    loaded = _registry(registry)
    rows = [
        {
            "hospital": h.hospital_code,
            "name": h.name,
            "network": h.network,
            "participating_since": h.participating_since,
            "per_visit": loaded.requires_per_visit_consent(h),
            "connector": h.connector.kind,
        }
        for h in loaded.hospitals.values()
    ]
    if json_output:
        _emit_json(rows)
    else:
        console.print(_table("Hospital registry", rows, list(rows[0]) if rows else []))


@app.command()
def ingest(
    hospital: Annotated[str, typer.Option(help="MOPH hospital code")],
    date_: DateOption,
    extract_dir: Annotated[
        Path | None, typer.Option(help="Extract folder (default: the connector's day folder)")
    ] = None,
    registry: RegistryOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Run one hospital's batch through extract, consent filter, validate, land and load."""
    extract_date = _extract_date(date_)  # before the heavy imports: a refusal is instant

    from warehouse.hospital_registry import RegistryError

    loaded = _registry(registry)
    try:
        chosen = loaded.hospital(hospital)
    except RegistryError as error:
        console.print(f"[red]registry error:[/red] {error}")
        raise typer.Exit(2) from None
    if not chosen.participates_on(extract_date):
        # Its patients' consent does not reach it yet (DESIGN §6: it joins on that day).
        raise typer.BadParameter(
            f"hospital {hospital} does not participate on {extract_date}"
            f" (participating_since: {chosen.participating_since or 'not set'})"
        )

    from warehouse.consent.sender_choice import sync_hospitals
    from warehouse.pipeline.batch import sync_batch
    from warehouse.storage.connection import connect
    from warehouse.storage.schema import setup_schema

    with connect() as conn:
        setup_schema(conn)  # first-run setup: a fresh HEALTHLINK_HOME just works
        sync_hospitals(conn, loaded)
    summary = sync_batch(chosen, extract_date, extract_dir=extract_dir, run_id="cli")
    data = summary.to_dict()
    if json_output:
        _emit_json(data)
    else:
        colour = {"loaded": "green", "quarantined": "yellow"}.get(summary.status, "red")
        console.print(
            f"[{colour}]{summary.hospital_code} {summary.extract_date}: {summary.status}[/{colour}]"
        )
        if summary.reason:
            console.print(f"reason: {summary.reason}")
        rows = [{"entity": e, **vars(c)} for e, c in sorted(summary.entities.items())]
        rows.append(
            {
                "entity": "TOTAL",
                "rows_read": summary.rows_read,
                "rows_loaded": summary.rows_loaded,
                "rows_rejected": summary.rows_rejected,
                "rows_filtered": summary.rows_filtered,
            }
        )
        console.print(
            _table(
                "Batch",
                rows,
                ["entity", *common.ROW_COUNTS],
            )
        )
        if summary.rows_deleted:  # not rows read: outside the table's accounting
            console.print(f"records deleted at the source: {summary.rows_deleted}")
    if summary.status == "failed":
        raise typer.Exit(1)


@app.command()
def migrate(json_output: JsonFlag = False) -> None:
    """Create or update the warehouse schemas (idempotent): raw, consent, ops, roles, RLS."""
    from warehouse.settings import get_settings
    from warehouse.storage.connection import connect
    from warehouse.storage.schema import ensure_schema

    settings = get_settings()
    with connect(settings) as conn:
        ensure_schema(conn)
        dialect = conn.dialect
    if json_output:
        _emit_json({"warehouse": dialect, "migrated": True})
    else:
        console.print(f"[green]{dialect} warehouse schema up to date[/green]")


@app.command()
def transform(json_output: JsonFlag = False) -> None:
    """Build the dbt project (staging → marts → published) and publish."""
    from warehouse.pipeline.transform import transform as run_transform

    published = run_transform()
    if json_output:
        _emit_json({"published_pairs": published})
    else:
        console.print(f"[green]dbt build succeeded[/green]; {published} hospital-day(s) published")


@app.command()
def status(json_output: JsonFlag = False) -> None:
    """Last batch per hospital: status, counts, reason and how fresh its data is."""
    from warehouse.pipeline.ops import latest_batches
    from warehouse.storage.connection import connect
    from warehouse.storage.schema import setup_schema

    with connect() as conn:
        setup_schema(conn)
        rows = latest_batches(conn)
    if json_output:
        _emit_json(rows)
        return
    console.print(
        _table(
            "Last batch per hospital",
            rows,
            [
                "hospital_code",
                "extract_date",
                "status",
                *common.ROW_COUNTS,
                "data_as_of",
                "reason",
            ],
        )
    )


@app.command()
def sync(
    date_: DateOption,
    registry: RegistryOption = None,
    json_output: JsonFlag = False,
) -> None:
    """The daily sync without Airflow: every participating hospital, then dbt and publish."""
    extract_date = _extract_date(date_)  # before the heavy imports: a refusal is instant

    from warehouse.pipeline.daily_run import daily_run_id, judge_run, run_daily_sync

    rows = run_daily_sync(extract_date, registry_dir=registry)
    if json_output:
        _emit_json(rows)
    else:
        print_run_summary(rows)
    # Never a false green: a failed or unprocessed hospital makes the command fail.
    verdict = judge_run(daily_run_id(extract_date), extract_date, registry_dir=registry)
    if not verdict.ok:
        err_console.print(f"[red]the run failed[/red]: {verdict.to_dict()}")
        raise typer.Exit(1)


def print_run_summary(rows: Sequence[Mapping[str, object]]) -> None:
    console.print(
        _table(
            "Run summary",
            rows,
            [
                "hospital_code",
                "status",
                *common.ROW_COUNTS,
                "duration_s",
                "data_as_of",
                "reason",
            ],
        )
    )


def _register_sub_apps() -> None:
    """Sub-commands that live beside the modules they drive (imported lazily by typer)."""
    from warehouse.cli import api as admin_cli
    from warehouse.cli import audit as audit_cli
    from warehouse.cli import backfill as backfill_cli
    from warehouse.cli import extract as extract_cli
    from warehouse.cli import hospital as hospital_cli
    from warehouse.cli import metrics as metrics_cli
    from warehouse.cli import ops as ops_cli
    from warehouse.cli import rejects as rejects_cli

    app.add_typer(audit_cli.app, name="audit")
    app.add_typer(admin_cli.app, name="api")
    app.add_typer(metrics_cli.app, name="metrics")
    app.add_typer(ops_cli.app, name="ops")
    app.add_typer(extract_cli.app, name="extract")
    app.add_typer(hospital_cli.app, name="hospital")
    app.command()(backfill_cli.backfill)
    app.command()(rejects_cli.rejects)


_register_sub_apps()

if __name__ == "__main__":
    app()
