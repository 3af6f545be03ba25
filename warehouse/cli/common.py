"""What every `healthlink` command module shares: the consoles, option types, date parsing,
the registry, JSON and table output (one home, imported by `main` and the command modules)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from warehouse.hospital_registry import Hospital, Registry

# Wide enough for the tables when output goes to a file or `make` (not a terminal).
console = Console() if sys.stdout.isatty() else Console(width=160)
err_console = Console(stderr=True)

# A batch's accounting, in the order every table shows it: read = loaded + rejected + filtered.
ROW_COUNTS = ("rows_read", "rows_loaded", "rows_rejected", "rows_filtered")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]
DateOption = Annotated[str, typer.Option("--date", help="Extract date, YYYY-MM-DD")]
HospitalOption = Annotated[str, typer.Option("--hospital", help="MOPH hospital code")]
RegistryOption = Annotated[
    Path | None,
    typer.Option("--registry", help="Registry directory (default HEALTHLINK_REGISTRY_DIR)"),
]


def emit_json(data: object, out: TextIO | None = None) -> None:
    (out or sys.stdout).write(json.dumps(data, default=str, ensure_ascii=False, indent=2) + "\n")


def table(title: str, rows: Sequence[Mapping[str, object]], columns: list[str]) -> Table:
    shown = Table(title=title)
    for column in columns:
        shown.add_column(column, overflow="fold")
    for row in rows:
        shown.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    return shown


def parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def extract_date(value: str) -> date:
    """An extract date: today or earlier in Asia/Bangkok (no hospital has tomorrow's data,
    and a future date would make hospitals join before their `participating_since`)."""
    from warehouse.clock import after_today, bangkok_today

    day = parse_date(value)
    if after_today(day):
        raise typer.BadParameter(
            f"{day} is after today ({bangkok_today()}, Asia/Bangkok); an extract date cannot be"
            " in the future"
        )
    return day


def load_registry(registry_dir: Path | None) -> Registry:
    """The hospital registry, or exit 2 with the registry's own message."""
    from warehouse.hospital_registry import RegistryError
    from warehouse.hospital_registry import load_registry as load
    from warehouse.settings import get_settings

    try:
        return load(registry_dir or get_settings().registry_dir)
    except RegistryError as error:
        console.print(f"[red]registry error:[/red] {error}")
        raise typer.Exit(2) from None


def registered_hospital(registry: Registry, code: str) -> Hospital:
    """The registry's hospital `code`, or exit 2 naming the code (an unknown hospital)."""
    from warehouse.hospital_registry import RegistryError

    try:
        return registry.hospital(code)
    except RegistryError as error:
        console.print(f"[red]registry error:[/red] {error}")
        raise typer.Exit(2) from None
