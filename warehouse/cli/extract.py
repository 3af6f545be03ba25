"""`healthlink extract check DIR [--hospital CODE] [--date D] [--json]`.

What a first ingest of a 43-file folder would do, without one (warehouse/onboarding): per
file its encoding, header, delimiter, date era, field-count anomalies, rows, rejects by rule
and date range; code coverage per reference set; the `connector:` settings the files call
for, or where the hospital's YAML disagrees with them. Exit 1 when the folder cannot be read
as declared (or, with no hospital, as detected) or its batch would be quarantined.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml

from warehouse.cli.common import (
    JsonFlag,
    RegistryOption,
    console,
    emit_json,
    load_registry,
    parse_date,
    registered_hospital,
    table,
)
from warehouse.cli.extract_source import (
    fhir_export_day,
    listed,
    print_coverage,
    print_source_check,
    run_source_check,
    yesterday,
)

if TYPE_CHECKING:
    from rich.table import Table

    from warehouse.hospital_registry import Hospital
    from warehouse.onboarding.extract_check import ExtractCheck, ExtractFolder, FileReport
    from warehouse.onboarding.source_check import SourceCheck

app = typer.Typer(help="Look at a hospital's extracts before onboarding it", no_args_is_help=True)


@app.command("check")
def check(
    folder: Annotated[
        Path | None,
        typer.Argument(
            help="A 43-file or FHIR export folder, or a connector path (its latest day); "
            "default: the --hospital's path"
        ),
    ] = None,
    hospital: Annotated[
        str | None, typer.Option("--hospital", help="Compare with this hospital's YAML")
    ] = None,
    date_: Annotated[
        str | None,
        typer.Option(
            "--date",
            help="Extract date (default: a folder's name; a database or server: yesterday)",
        ),
    ] = None,
    registry: RegistryOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Read an extract as an ingest would (a folder, or the hospital's HOSxP database or FHIR
    export), write nothing, report what it found."""
    result = run_check(folder, hospital, date_, registry)
    if json_output:
        emit_json(result.to_dict())
    else:
        print_any(result)
    if not result.ok:
        raise typer.Exit(1)


def run_check(
    folder: Path | None, hospital_code: str | None, date_: str | None, registry_dir: Path | None
) -> ExtractCheck | SourceCheck:
    """The check of `folder` or of the hospital's source (exit 2 when there is nothing to
    check or no such hospital)."""
    from warehouse.onboarding.extract_check import NoExtract, find_extract
    from warehouse.onboarding.fhir_export import find_fhir_export

    chosen = None
    if hospital_code is not None:
        chosen = registered_hospital(load_registry(registry_dir), hospital_code)
        if chosen.connector.kind != "file43":
            return check_hospital_source(chosen, folder, date_)
        folder = folder or chosen.connector.path
    if folder is None:
        console.print("[red]name a folder, or a hospital with --hospital[/red]")
        raise typer.Exit(2)
    export = find_fhir_export(folder) if chosen is None else None
    if export is not None:
        return _check_fhir_folder(export, date_)
    try:
        extract = find_extract(folder)
    except NoExtract as error:
        console.print(f"[red]no extract:[/red] {error}")
        raise typer.Exit(2) from None
    return check_found(extract, chosen, date_)


def check_hospital_source(chosen: Hospital, folder: Path | None, date_: str | None) -> SourceCheck:
    """A HOSxP or FHIR hospital's source read through its connector as the YAML declares it
    (a FHIR export `folder` when one is named)."""
    from connectors.fhir_bulk import FhirBulkSettings
    from connectors.hosxp import HosxpSettings
    from warehouse.onboarding.fhir_export import find_fhir_export
    from warehouse.pipeline.batch import effective_reject_threshold
    from warehouse.settings import get_settings

    settings = chosen.connector
    assert isinstance(settings, HosxpSettings | FhirBulkSettings)
    extract_dir, day = fhir_export_day(settings, date_)
    if folder is not None:
        if isinstance(settings, HosxpSettings):
            console.print(
                f"[red]{chosen.hospital_code} is read from its HOSxP database: name no folder[/red]"
            )
            raise typer.Exit(2)
        extract_dir = find_fhir_export(folder)
        if extract_dir is None:
            console.print(f"[red]{folder}: no FHIR export (manifest.json or NDJSON) in it[/red]")
            raise typer.Exit(2)
        day = parse_date(date_) if date_ else _folder_day(extract_dir)
    return run_source_check(
        settings,
        day,
        hospital_code=chosen.hospital_code,
        declared=True,
        extract_dir=extract_dir,
        reject_threshold=effective_reject_threshold(None, chosen, get_settings()),
    )


def _check_fhir_folder(export: Path, date_: str | None) -> SourceCheck:
    """An export folder of no named hospital, read with the settings it calls for."""
    from warehouse.onboarding.extract_check import UNNAMED_HOSPITAL
    from warehouse.onboarding.source_check import proposed_fhir_settings
    from warehouse.settings import get_settings

    return run_source_check(
        proposed_fhir_settings(export),
        parse_date(date_) if date_ else _folder_day(export),
        hospital_code=UNNAMED_HOSPITAL,
        declared=False,
        extract_dir=export,
        reject_threshold=get_settings().reject_threshold,
    )


def _folder_day(folder: Path) -> date:
    from warehouse.onboarding.extract_check import folder_date

    return folder_date(folder) or yesterday()


def check_found(
    extract: ExtractFolder, chosen: Hospital | None = None, date_: str | None = None
) -> ExtractCheck:
    """The check of a found 43-file extract, against the hospital's YAML when one is named,
    with the reference code lists dbt would load (HEALTHLINK_REFERENCE_CODES_DIR or the
    project's)."""
    from connectors.file43 import File43Settings
    from warehouse.clock import bangkok_today
    from warehouse.onboarding.extract_check import check_extract, folder_date
    from warehouse.onboarding.reference_codes import ReferenceCodesMissing, reference_folder
    from warehouse.pipeline.batch import effective_reject_threshold
    from warehouse.settings import get_settings

    day = parse_date(date_) if date_ else folder_date(extract.path) or bangkok_today()
    settings = get_settings()
    declared, threshold = None, settings.reject_threshold
    if chosen is not None:
        assert isinstance(chosen.connector, File43Settings)
        declared = chosen.connector
        threshold = effective_reject_threshold(None, chosen, settings)
    try:
        return check_extract(
            extract,
            day,
            hospital_code=None if chosen is None else chosen.hospital_code,
            declared=declared,
            reject_threshold=threshold,
            reference_codes=reference_folder(settings.reference_codes_dir),
        )
    except ReferenceCodesMissing as error:
        console.print(f"[red]reference codes:[/red] {error}")
        raise typer.Exit(2) from None


def print_any(result: ExtractCheck | SourceCheck) -> None:
    from warehouse.onboarding.source_check import SourceCheck

    if isinstance(result, SourceCheck):
        print_source_check(result)
    else:
        print_check(result)


def print_check(result: ExtractCheck) -> None:
    console.print(f"[bold]{result.folder}[/bold] (extract date {result.extract_date})")
    console.print(_settings_table(result))
    if result.declared is None:
        block = {"connector": result.proposed_connector()}
        console.print("Proposed YAML:\n" + yaml.safe_dump(block, sort_keys=False).rstrip())
    files = [_file_row(report) for report in result.files]
    console.print(table("Files", files, list(files[0]) if files else []))
    if result.rejects:
        rejects = [
            {
                "file": r.file,
                "rule": r.rule,
                "field": r.field,
                "rows": len(r.lines),
                "lines": listed(r.lines),
            }
            for r in result.rejects
        ]
        console.print(table("Rows that would be rejected", rejects, list(rejects[0])))
    print_coverage(result.coverage)
    _print_verdict(result)


def _settings_table(result: ExtractCheck) -> Table:
    against = {d.setting: d for d in result.disagreements}
    rows = []
    for setting, value in result.proposal.settings.items():
        shown = repr(value) if result.proposal.evidence[setting] else f"{value!r} (no evidence)"
        row: dict[str, object] = {"setting": setting, "detected": shown}
        if result.declared is not None:
            row["declared"] = repr(getattr(result.declared, setting))
            wrong = against.get(setting)
            row["verdict"] = (
                f"[red]disagrees[/red]: {', '.join(wrong.files)}"
                if wrong
                else "[green]agrees[/green]"
            )
        rows.append(row)
    columns = ["setting", "detected"] + (["declared", "verdict"] if result.declared else [])
    return table("Connector settings", rows, columns)


def _file_row(report: FileReport) -> dict[str, object]:
    found = report.format
    anomalies = report.field_count_anomalies
    return {
        "file": found.name,
        "encoding": found.encoding,
        "header": found.header,
        "delimiter": repr(found.delimiter) if found.delimiter else None,
        "era": found.era,
        "lines": found.data_lines,
        "rows": report.rows,
        "bad field count": f"{len(anomalies)} (lines {listed(anomalies)})" if anomalies else 0,
        "rejected lines": report.rejected_lines,
        "dates": f"{report.first_date} .. {report.last_date}" if report.first_date else None,
    }


def _print_verdict(result: ExtractCheck) -> None:
    for conflict in result.proposal.conflicts:
        console.print(f"[red]files disagree[/red] {conflict}")
    if result.missing_files:
        console.print(f"[red]missing files[/red]: {', '.join(result.missing_files)}")
    if result.read_error:
        console.print(f"[red]cannot be read ({result.read_error_code})[/red]: {result.read_error}")
    for failure in result.critical:
        console.print(f"[red]critical[/red]: {failure}")
    considered = result.rows_read or 1
    share = result.rows_rejected / considered
    summary = f"{result.rows_rejected} of {result.rows_read} rows would be rejected ({share:.1%})"
    if result.ok:
        console.print(
            f"[green]reads as {'declared' if result.declared else 'detected'}[/green]; {summary}"
        )
    elif result.read_error is None:
        verdict = "would be quarantined" if result.would_quarantine else "does not read as declared"
        console.print(f"[red]{verdict}[/red]; {summary} (threshold {result.reject_threshold:.1%})")


__all__ = ["app", "check_found", "check_hospital_source", "print_any", "print_check", "run_check"]
