"""`healthlink rejects --hospital CODE --date D [--format table|csv|json] [--out FILE]`.

The feedback file a hospital's data team acts on: for every rejected record of the day,
where it is and why, in the vocabulary of docs/contract.md "Rejects": `entity`, `source`
(the file name; a database source's table; a FHIR source's resource type), `line` (files),
`key` (a table's primary key, a FHIR resource id), `field` (the source's own field name),
`rule` and `reason`. Read from ops.reject, which holds no content: no values, no national ID,
no name. Neither the row hash is given out: the team finds a record by where it is.
"""

from __future__ import annotations

import csv
import enum
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO

import typer

from warehouse.cli.common import (
    DateOption,
    HospitalOption,
    JsonFlag,
    console,
    emit_json,
    err_console,
    parse_date,
    table,
)

if TYPE_CHECKING:
    from datetime import date

    from warehouse.storage.connection import WarehouseConnection

# The feedback file's columns, in order (ops.reject's source_file/source_line/source_key are
# the Location's source/line/key).
COLUMNS = [
    "hospital_code",
    "extract_date",
    "entity",
    "source",
    "line",
    "key",
    "field",
    "rule",
    "reason",
]


class Format(enum.StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def day_rejects(conn: WarehouseConnection, hospital_code: str, day: date) -> list[dict[str, Any]]:
    cursor = conn.execute(
        "SELECT hospital_code, extract_date, entity, source_file AS source, "
        "source_line AS line, source_key AS key, field, rule, reason FROM ops.reject "
        "WHERE hospital_code = ? AND extract_date = ? "
        "ORDER BY source_file, source_line, source_key, field, rule",
        [hospital_code, day],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def write_csv(rows: list[dict[str, Any]], out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def rejects(
    hospital: HospitalOption,
    date_: DateOption,
    format_: Annotated[
        Format, typer.Option("--format", help="table (first --limit rows), csv or json")
    ] = Format.table,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write to this file instead of the terminal")
    ] = None,
    limit: Annotated[int, typer.Option(help="Rows shown by --format table")] = 50,
    json_output: JsonFlag = False,
) -> None:
    """A day's rejected records: source, line, key, field, rule and reason (never content)."""
    day = parse_date(date_)

    from warehouse.storage.connection import connect
    from warehouse.storage.schema import setup_schema

    with connect() as conn:
        setup_schema(conn)
        rows = day_rejects(conn, hospital, day)
    chosen = Format.json if json_output else format_
    if chosen is Format.table and out is None:
        console.print(table(f"Rejects {hospital} {day}", rows[:limit], COLUMNS))
        if len(rows) > limit:
            console.print(f"{len(rows) - limit} more: --format csv --out FILE gives them all")
        return
    if chosen is Format.table:
        raise typer.BadParameter("--out writes csv or json; add --format csv", param_hint="--out")
    if out is None:
        _write(chosen, rows, sys.stdout)
        return
    with out.open("w", encoding="utf-8", newline="") as handle:
        _write(chosen, rows, handle)
    err_console.print(f"{len(rows)} reject(s) of {hospital} {day} written to {out}")


def _write(chosen: Format, rows: list[dict[str, Any]], out: TextIO) -> None:
    if chosen is Format.csv:
        write_csv(rows, out)
    else:
        emit_json(rows, out)
