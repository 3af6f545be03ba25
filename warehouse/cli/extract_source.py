"""`healthlink extract check` for a HOSxP database or a FHIR Bulk Data export: which day is
read, and the report for people (warehouse/onboarding/source_check.py does the reading).

Also the pieces both checks print (code coverage, line and key lists).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Final

import typer
import yaml

from warehouse.cli.common import console, parse_date, table

if TYPE_CHECKING:
    from warehouse.onboarding.reference_codes import Coverage
    from warehouse.onboarding.source_check import SourceCheck, SourceSettings

LISTED: Final = 10  # lines or keys per table cell; --json gives up to 100


def yesterday() -> date:
    """The default day of a source check: the last whole day in Asia/Bangkok."""
    from warehouse.clock import bangkok_today

    return bangkok_today() - timedelta(days=1)


def fhir_export_day(settings: SourceSettings, date_: str | None) -> tuple[Path | None, date]:
    """(folder, date) to read: an export folder that is already there, rather than a day that
    may not be (onboarding comes with one delivery): a `dated` folder's latest day export
    when no --date is given. A database or a server reads through its window (no folder)."""
    from connectors.fhir_bulk import FhirBulkSettings
    from warehouse.onboarding.extract_check import folder_date
    from warehouse.onboarding.fhir_export import find_fhir_export

    if date_ is not None:
        return None, parse_date(date_)
    if (
        isinstance(settings, FhirBulkSettings)
        and not settings.server
        and settings.layout == "dated"
    ):
        export = find_fhir_export(settings.path)
        day = folder_date(export) if export is not None else None
        if export is not None and day is not None:
            return export, day
    return None, yesterday()


def run_source_check(
    settings: SourceSettings,
    day: date,
    *,
    hospital_code: str,
    declared: bool,
    extract_dir: Path | None,
    reject_threshold: float,
) -> SourceCheck:
    """The check of one day read through the connector, with the reference code lists dbt
    would load (exit 2 when they are incomplete)."""
    from warehouse.onboarding.reference_codes import ReferenceCodesMissing, reference_folder
    from warehouse.onboarding.source_check import check_source
    from warehouse.settings import get_settings

    try:
        return check_source(
            settings,
            day,
            hospital_code=hospital_code,
            declared=declared,
            extract_dir=extract_dir,
            reject_threshold=reject_threshold,
            reference_codes=reference_folder(get_settings().reference_codes_dir),
        )
    except ReferenceCodesMissing as error:
        console.print(f"[red]reference codes:[/red] {error}")
        raise typer.Exit(2) from None


def print_source_check(result: SourceCheck) -> None:
    from warehouse.onboarding.source_check import NO_SYSTEM

    window = f", {result.window.describe()}" if result.window else ""
    console.print(f"[bold]{result.kind}[/bold] (extract date {result.extract_date}{window})")
    if not result.declared:
        block = {"connector": result.connector}
        console.print("Proposed YAML:\n" + yaml.safe_dump(block, sort_keys=False).rstrip())
        if result.connector.get("national_id_system") == NO_SYSTEM:
            console.print("[red]no Patient identifier system holds valid Thai national IDs[/red]")
    for finding in result.findings:
        where = ", ".join(
            filter(None, [finding.source, finding.field and f"field {finding.field}"])
        )
        console.print(f"[red]{finding.reason_code}[/red] {where}: {finding.message}")
    for wrong in result.disagreements:
        console.print(
            f"[red]disagrees[/red] {wrong.setting}: the YAML says {wrong.declared!r}, the "
            f"{', '.join(wrong.files)} resources {wrong.detected!r}"
        )
    if result.optional_missing:
        console.print(f"not in the database (skipped): {', '.join(result.optional_missing)}")
    entities = [
        {
            "entity": e.entity,
            "from": ", ".join(sorted(e.sources)),
            "rows": e.rows,
            "rejected": e.rejected_rows,
            "dates": f"{e.first_date} .. {e.last_date}" if e.first_date else None,
        }
        for e in result.entities
    ]
    if entities:
        console.print(table("Entities", entities, list(entities[0])))
    rejects = [
        {
            "entity": r.entity,
            "source": r.source,
            "rule": r.rule,
            "field": r.field,
            "rows": len(r.keys),
            "keys or lines": listed(r.keys),
        }
        for r in result.rejects
    ]
    if rejects:
        console.print(table("Rows that would be rejected", rejects, list(rejects[0])))
    for entity, systems in result.undeclared_systems.items():
        uris = ", ".join(f"{uri} ({n})" for uri, n in systems)
        console.print(
            f"code_system_declared {entity}: the refused resources are coded in {uris or '-'}; "
            f"declare the ones to take (hospital add --code-system {entity}=URI, or the YAML's "
            "code_systems)"
        )
    print_coverage(result.coverage)
    _print_verdict(result)


def print_coverage(found: list[Coverage]) -> None:
    rows = [
        {
            "reference": c.reference,
            "column": f"{c.entity}.{c.column}",
            "system": c.code_system or "native",
            "coded rows": c.coded_rows,
            "known": _known(c),
            "top unknown codes": ", ".join(f"{code} ({n})" for code, n in c.top_unknown),
        }
        for c in found
    ]
    if rows:  # none when the source could not be read
        console.print(table("Code coverage", rows, list(rows[0])))


def _known(found: Coverage) -> str | None:
    if found.known_rows is None:
        return "not looked up (a hospital's own codes)"
    return None if found.share_known is None else f"{found.share_known:.1%}"


def listed(items: list[int] | list[str]) -> str:
    shown = ", ".join(str(item) for item in items[:LISTED])
    more = len(items) - LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _print_verdict(result: SourceCheck) -> None:
    for failure in result.critical:
        console.print(f"[red]critical[/red]: {failure}")
    if result.deleted:
        console.print(f"{result.deleted} record(s) deleted at the source (not applied yet)")
    share = result.rows_rejected / (result.rows_read or 1)
    summary = f"{result.rows_rejected} of {result.rows_read} rows would be rejected ({share:.1%})"
    if result.ok:
        console.print(
            f"[green]reads as {'declared' if result.declared else 'detected'}[/green]; {summary}"
        )
    elif result.readable:
        console.print(
            f"[red]would be quarantined[/red]; {summary} (threshold {result.reject_threshold:.1%})"
        )
    elif not result.findings:
        console.print(f"[red]does not read as declared[/red]; {summary}")
    else:
        console.print("[red]cannot be read[/red]: see the findings above")
