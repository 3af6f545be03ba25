"""`healthlink hospital add CODE --name ... --network ... --health-region N --connector KIND
...`: a new hospital's registry YAML, then the check of what its source holds.

The YAML is validated by the registry's model and never written over an existing one;
`participating_since` stays unset, so the hospital joins only when someone sets it.
- file43 (`--path DIR`): when DIR holds an extract (its latest YYYY-MM-DD folder), `extract
  check` runs on it first and what it detected goes into the YAML.
- hosxp (`--database`, and where the login is: `--credentials-env` or `--secrets-file` with
  `--secrets-key`; host and port live with the login, never in the YAML).
- fhir_bulk (`--path`, `--layout`, `--national-id-system` (else detected from the latest
  export under the path), `--code-system ENTITY=URI` (repeatable: the entity's `code_systems`,
  best first, in place of its defaults), or a server's `--base-url`, `--token-url`,
  `--credentials`).
For hosxp and fhir_bulk the source check reads the day (`--date`, default yesterday; a FHIR
folder's latest day export) through the written YAML. The command exits as the check does
(1: look at the report).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from warehouse.cli.common import JsonFlag, RegistryOption, console, emit_json

app = typer.Typer(help="The hospital registry", no_args_is_help=True)


@app.command("add")
def add(
    code: Annotated[str, typer.Argument(help="MOPH hospital code (5 digits)")],
    name: Annotated[str, typer.Option(help="Hospital name")],
    network: Annotated[str, typer.Option(help="Network code (registry networks.yml)")],
    health_region: Annotated[int, typer.Option(help="Health region 1-13 (Bangkok 13)")],
    connector: Annotated[str, typer.Option(help="Connector kind: file43, hosxp, fhir_bulk")] = (
        "file43"
    ),
    path: Annotated[
        Path | None,
        typer.Option(help="file43, fhir_bulk: folder holding one YYYY-MM-DD folder per day"),
    ] = None,
    database: Annotated[str | None, typer.Option(help="hosxp: the HOSxP schema name")] = None,
    credentials_env: Annotated[
        str | None,
        typer.Option(help="hosxp: prefix of <PREFIX>_HOST, _PORT, _USER, _PASSWORD"),
    ] = None,
    secrets_file: Annotated[
        Path | None, typer.Option(help="hosxp: JSON secrets file (instead of the environment)")
    ] = None,
    secrets_key: Annotated[
        str | None, typer.Option(help="hosxp: the hospital's entry in the secrets file")
    ] = None,
    layout: Annotated[
        str | None, typer.Option(help="fhir_bulk: dated (a folder per day) or single")
    ] = None,
    national_id_system: Annotated[
        str | None,
        typer.Option(help="fhir_bulk: Patient.identifier system of the Thai ID (else detected)"),
    ] = None,
    hn_system: Annotated[
        str | None, typer.Option(help="fhir_bulk: Patient.identifier system of the HN")
    ] = None,
    code_system: Annotated[
        list[str] | None,
        typer.Option(
            help="fhir_bulk: ENTITY=SYSTEM_URI, repeatable; the entity's code systems, best "
            "first, in place of its defaults (name the Thai URI too if the export uses it)"
        ),
    ] = None,
    base_url: Annotated[str | None, typer.Option(help="fhir_bulk server: FHIR base URL")] = None,
    export_path: Annotated[
        str | None, typer.Option(help="fhir_bulk server: kick-off path (default $export)")
    ] = None,
    token_url: Annotated[
        str | None, typer.Option(help="fhir_bulk server: SMART token endpoint")
    ] = None,
    credentials: Annotated[
        str | None, typer.Option(help="fhir_bulk server: credential set name")
    ] = None,
    date_: Annotated[
        str | None, typer.Option("--date", help="hosxp, fhir_bulk: day to check")
    ] = None,
    registry: RegistryOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Scaffold a hospital's YAML (not yet participating) and check its source."""
    from connectors.registry import CONNECTORS
    from warehouse.hospital_registry import RegistryError
    from warehouse.onboarding.scaffold import connector_block, refuse_existing, write_hospital
    from warehouse.settings import get_settings

    if connector not in CONNECTORS:
        console.print(f"[red]unknown connector {connector!r}; known: {', '.join(CONNECTORS)}[/red]")
        raise typer.Exit(2)
    registry_dir = registry or get_settings().registry_dir
    checked: Any = None
    try:
        refuse_existing(registry_dir, code)  # before any check: a refusal is instant
        if connector == "file43":
            checked = _check_latest(_required(path, "--path"))
            settings = checked.proposal.settings if checked else {}
            block = {"kind": "file43", "path": str(_required(path, "--path").resolve()), **settings}
        else:
            options = {
                "path": path.resolve() if path else None,
                "database": database,
                "credentials_env": credentials_env,
                "secrets_file": secrets_file,
                "secrets_key": secrets_key,
                "layout": layout,
                "national_id_system": national_id_system,
                "hn_system": hn_system,
                "code_systems": _code_systems(code_system),
                "base_url": base_url,
                "export_path": export_path,
                "token_url": token_url,
                "credentials": credentials,
            }
            if connector == "fhir_bulk" and national_id_system is None:
                options["national_id_system"] = _detected_national_id_system(path)
            block = connector_block(connector, options)
        written = write_hospital(
            registry_dir,
            code=code,
            name=name,
            network=network,
            health_region=health_region,
            connector=block,
        )
    except RegistryError as error:
        console.print(f"[red]registry error:[/red] {error}")
        raise typer.Exit(2) from None
    if connector != "file43" and not _nothing_to_check_yet(written.connector, date_):
        from warehouse.cli.extract import check_hospital_source

        checked = check_hospital_source(written, None, date_)
    target = registry_dir / "hospitals" / f"{code}.yml"
    _report(target, written.connector.model_dump(mode="json"), checked, json_output)
    if checked is not None and not checked.ok:
        raise typer.Exit(1)


def _code_systems(given: list[str] | None) -> dict[str, list[str]] | None:
    """`--code-system ENTITY=URI` options as the settings' `code_systems` (which entities
    exist is the settings model's to say, when write_hospital validates the block)."""
    if not given:
        return None
    systems: dict[str, list[str]] = {}
    for option in given:
        entity, separator, uri = option.partition("=")
        if not separator or not entity.strip() or not uri.strip():
            console.print(f"[red]--code-system {option!r}: expected ENTITY=SYSTEM_URI[/red]")
            raise typer.Exit(2)
        systems.setdefault(entity.strip(), []).append(uri.strip())
    return systems


def _nothing_to_check_yet(settings: object, date_: str | None) -> bool:
    """A FHIR export folder with no export in it yet (and no --date asking for a day): as for
    a 43-file folder without an extract, the YAML is written and there is nothing to read."""
    from connectors.fhir_bulk import FhirBulkSettings
    from warehouse.onboarding.fhir_export import find_fhir_export

    if not isinstance(settings, FhirBulkSettings) or settings.server or date_ is not None:
        return False
    return find_fhir_export(settings.path) is None


def _required(value: Path | None, option: str) -> Path:
    if value is None:
        console.print(f"[red]{option} is required for this connector[/red]")
        raise typer.Exit(2)
    return value


def _check_latest(path: Path) -> Any:
    """The extract check of the latest extract under `path`, or None when there is none."""
    from warehouse.cli.extract import check_found
    from warehouse.onboarding.extract_check import NoExtract, find_extract

    try:
        return check_found(find_extract(path))
    except NoExtract:
        return None


def _detected_national_id_system(path: Path | None) -> str:
    """The system the latest export under `path` carries Thai IDs in, or exit 2 asking."""
    from connectors.base import ExtractError
    from warehouse.onboarding.fhir_export import detected_national_id_system, find_fhir_export

    export = find_fhir_export(path) if path is not None else None
    try:
        detected = detected_national_id_system(export) if export is not None else None
    except ExtractError:
        detected = None  # an export that cannot be read shows nothing; the check will say why
    if detected is None:
        console.print(
            "[red]--national-id-system: no export under --path shows which Patient identifier "
            "system holds the Thai national ID; name it[/red]"
        )
        raise typer.Exit(2)
    return detected


def _report(target: Path, connector: dict[str, Any], checked: Any, json_output: bool) -> None:
    if json_output:
        emit_json(
            {
                "hospital_file": str(target),
                "connector": connector,
                "participating_since": None,
                "check": checked.to_dict() if checked else None,
            }
        )
        return
    from warehouse.cli.extract import print_any

    if checked is not None:
        print_any(checked)
    else:
        console.print(
            "no extract under the path yet: nothing was checked (the YAML holds the options "
            "given and the connector's defaults)"
        )
    console.print(
        f"[green]wrote[/green] {target} (participating_since not set: the hospital joins "
        "when someone sets it)"
    )
