"""`healthlink extract check DIR [--hospital CODE] [--date D] [--json]`.

What a first ingest of a 43-file folder would do, without one (warehouse/onboarding): per
file its encoding, header, delimiter, date era, field-count anomalies, rows, rejects by rule
and date range; code coverage per reference set; the `connector:` settings the files call
for, or where the hospital's YAML disagrees with them. Exit 1 when the folder cannot be read
as declared (or, with no hospital, as detected) or its batch would be quarantined.
"""

from __future__ import annotations

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

if TYPE_CHECKING:
    from rich.table import Table

    from warehouse.onboarding.extract_check import ExtractCheck, ExtractFolder, FileReport
    from warehouse.onboarding.reference_codes import Coverage

app = typer.Typer(help="Look at a hospital's extracts before onboarding it", no_args_is_help=True)

_LINES_PRINTED = 10  # line numbers per table cell; --json gives up to LINES_SHOWN


@app.command("check")
def check(
    folder: Annotated[
        Path, typer.Argument(help="An extract folder, or a connector path (its latest day)")
    ],
    hospital: Annotated[
        str | None, typer.Option("--hospital", help="Compare with this hospital's YAML")
    ] = None,
    date_: Annotated[
        str | None,
        typer.Option("--date", help="Extract date (default: the folder's name, else today)"),
    ] = None,
    registry: RegistryOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Read a 43-file folder as an ingest would, write nothing, report what it found."""
    result = run_check(folder, hospital, date_, registry)
    if json_output:
        emit_json(result.to_dict())
    else:
        print_check(result)
    if not result.ok:
        raise typer.Exit(1)


def run_check(
    folder: Path, hospital_code: str | None, date_: str | None, registry_dir: Path | None
) -> ExtractCheck:
    """The check of `folder` (exit 2 when there is nothing to check or no such hospital)."""
    from warehouse.onboarding.extract_check import NoExtract, find_extract

    try:
        extract = find_extract(folder)
    except NoExtract as error:
        console.print(f"[red]no extract:[/red] {error}")
        raise typer.Exit(2) from None
    return check_found(extract, hospital_code, date_, registry_dir)


def check_found(
    extract: ExtractFolder,
    hospital_code: str | None = None,
    date_: str | None = None,
    registry_dir: Path | None = None,
) -> ExtractCheck:
    """The check of a found extract, against the hospital's YAML when one is named, with the
    reference code lists dbt would load (HEALTHLINK_REFERENCE_CODES_DIR or the project's)."""
    from warehouse.clock import bangkok_today
    from warehouse.onboarding.extract_check import check_extract, folder_date
    from warehouse.onboarding.reference_codes import ReferenceCodesMissing, reference_folder
    from warehouse.pipeline.batch import effective_reject_threshold
    from warehouse.settings import get_settings

    day = parse_date(date_) if date_ else folder_date(extract.path) or bangkok_today()
    settings = get_settings()
    declared, threshold = None, settings.reject_threshold
    if hospital_code is not None:
        chosen = registered_hospital(load_registry(registry_dir), hospital_code)
        if chosen.connector.kind != "file43":
            console.print(f"[red]hospital {hospital_code} is not a 43-file hospital[/red]")
            raise typer.Exit(2)
        declared = chosen.connector
        threshold = effective_reject_threshold(None, chosen, settings)
    try:
        return check_extract(
            extract,
            day,
            hospital_code=hospital_code,
            declared=declared,
            reject_threshold=threshold,
            reference_codes=reference_folder(settings.reference_codes_dir),
        )
    except ReferenceCodesMissing as error:
        console.print(f"[red]reference codes:[/red] {error}")
        raise typer.Exit(2) from None


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
                "lines": _lines(r.lines),
            }
            for r in result.rejects
        ]
        console.print(table("Rows that would be rejected", rejects, list(rejects[0])))
    coverage = [_coverage_row(found) for found in result.coverage]
    if coverage:  # none when the folder could not be read
        console.print(table("Code coverage", coverage, list(coverage[0])))
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
        "bad field count": f"{len(anomalies)} (lines {_lines(anomalies)})" if anomalies else 0,
        "rejected lines": report.rejected_lines,
        "dates": f"{report.first_date} .. {report.last_date}" if report.first_date else None,
    }


def _coverage_row(found: Coverage) -> dict[str, object]:
    share = found.share_known
    return {
        "reference": found.reference,
        "column": f"{found.entity}.{found.column}",
        "coded rows": found.coded_rows,
        "known": None if share is None else f"{share:.1%}",
        "top unknown codes": ", ".join(f"{code} ({rows})" for code, rows in found.top_unknown),
    }


def _lines(lines: list[int]) -> str:
    shown = ", ".join(str(n) for n in lines[:_LINES_PRINTED])
    more = len(lines) - _LINES_PRINTED
    return shown + (f" and {more} more" if more > 0 else "")


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


__all__ = ["app", "print_check", "run_check"]
