"""`healthlink hospital add CODE --name ... --network ... --health-region N --connector file43
--path DIR`: a new hospital's registry YAML, with the connector settings its files call for.

The YAML is validated by the registry's model and never written over an existing one;
`participating_since` stays unset, so the hospital joins only when someone sets it. When DIR
holds an extract (its latest YYYY-MM-DD folder), `extract check` runs on it first and what it
detected goes into the YAML; the command then exits as the check does (1: look at the report).
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
    path: Annotated[Path, typer.Option(help="Folder holding one YYYY-MM-DD folder per day")],
    connector: Annotated[str, typer.Option(help="Connector kind")] = "file43",
    registry: RegistryOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Scaffold a hospital's YAML (not yet participating) and check its latest extract."""
    from warehouse.hospital_registry import RegistryError
    from warehouse.onboarding.scaffold import refuse_existing, write_hospital
    from warehouse.settings import get_settings

    if connector != "file43":
        console.print(f"[red]hospital add scaffolds file43 hospitals; not {connector!r}[/red]")
        raise typer.Exit(2)
    registry_dir = registry or get_settings().registry_dir
    try:
        refuse_existing(registry_dir, code)  # before the check: a refusal is instant
        checked = _check_latest(path)
        settings = checked.proposal.settings if checked else {}
        written = write_hospital(
            registry_dir,
            code=code,
            name=name,
            network=network,
            health_region=health_region,
            connector={"kind": "file43", "path": str(path.resolve()), **settings},
        )
    except RegistryError as error:
        console.print(f"[red]registry error:[/red] {error}")
        raise typer.Exit(2) from None
    target = registry_dir / "hospitals" / f"{code}.yml"
    _report(target, written.connector.model_dump(mode="json"), checked, json_output)
    if checked is not None and not checked.ok:
        raise typer.Exit(1)


def _check_latest(path: Path) -> Any:
    """The extract check of the latest extract under `path`, or None when there is none."""
    from warehouse.cli.extract import check_found
    from warehouse.onboarding.extract_check import NoExtract, find_extract

    try:
        return check_found(find_extract(path))
    except NoExtract:
        return None


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
    from warehouse.cli.extract import print_check

    if checked is not None:
        print_check(checked)
    else:
        console.print("no extract under the path yet: the connector's defaults were written")
    console.print(
        f"[green]wrote[/green] {target} (participating_since not set: the hospital joins "
        "when someone sets it)"
    )
