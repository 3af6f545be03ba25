"""`healthlink audit ...`: verify the keyed access audit, review break-glass accesses (wired
into warehouse.cli.main as `audit`).

`verify` prints sequence and line numbers and counts only, never the content of a record.
`break-glass` is the ops review of emergency accesses and shows what they need to judge one
(licence, hospital, patient key, reason, source hospitals); its output is for the review.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, time
from typing import Annotated, Any, NoReturn, TypedDict
from zoneinfo import ZoneInfo

import typer

app = typer.Typer(help="Access audit: verify the chain, review break-glass", no_args_is_help=True)

BANGKOK = ZoneInfo("Asia/Bangkok")


class BreakGlassReview(TypedDict):
    """One break-glass access as the review shows it (table row or JSON object)."""

    sequence: int
    time: str
    licence: str | None
    hospital: str | None
    patient_key: str | None
    reason: str | None
    source_hospitals: list[str]
    outcome: str


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"error: {message}\n")
    raise typer.Exit(2)


@app.command()
def verify(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Recompute the chain and check the exported heads; exit 1 on a modified, deleted,
    renumbered or truncated record or a rewritten head file."""
    from warehouse.audit.trail import AuditKeyError, signing_key
    from warehouse.audit.trail import verify as verify_chain
    from warehouse.settings import get_settings
    from warehouse.storage.connection import connect
    from warehouse.storage.schema import setup_schema

    settings = get_settings()
    try:
        key = signing_key(settings)
    except AuditKeyError as error:
        _fail(str(error))
    with connect(settings) as conn:
        setup_schema(conn)
        result = verify_chain(conn, key, settings.audit_head_sink_path)
    if as_json:
        payload = {"rows": result.rows, "problems": result.problems, "notes": result.notes}
        sys.stdout.write(json.dumps(payload) + "\n")
    else:
        for problem in result.problems:
            sys.stdout.write(f"FAIL {problem}\n")
        for note in result.notes:
            sys.stdout.write(f"note {note}\n")
        status = "ok" if result.ok else f"{len(result.problems)} problem(s)"
        sys.stdout.write(f"audit chain: {result.rows} records, {status}\n")
    if not result.ok:
        raise typer.Exit(1)


@app.command("break-glass")
def break_glass(
    since: Annotated[
        str, typer.Option("--since", help="First day to list, YYYY-MM-DD (Asia/Bangkok)")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array")] = False,
) -> None:
    """Break-glass accesses from a day on (time, licence, hospital, patient key, reason,
    source hospitals, outcome), oldest first, for ops review."""
    from warehouse.audit.trail import break_glass_accesses
    from warehouse.settings import get_settings
    from warehouse.storage.connection import connect
    from warehouse.storage.schema import setup_schema

    try:
        first_day = date.fromisoformat(since)
    except ValueError:
        _fail("--since must be a date, YYYY-MM-DD")
    start = datetime.combine(first_day, time.min, tzinfo=BANGKOK)
    with connect(get_settings()) as conn:
        setup_schema(conn)
        rows = [_review_row(r) for r in break_glass_accesses(conn, start)]
    if as_json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
        return
    _print_table(rows, first_day)


def _review_row(row: dict[str, Any]) -> BreakGlassReview:
    at: datetime = row["occurred_at"]
    if at.tzinfo is None:  # DuckDB keeps UTC without a zone
        at = at.replace(tzinfo=ZoneInfo("UTC"))
    sources: str = row["source_hospitals"] or ""
    return {
        "sequence": int(row["access_id"]),
        "time": at.astimezone(BANGKOK).isoformat(timespec="seconds"),
        "licence": row["physician_licence"],
        "hospital": row["physician_hospital_code"],
        "patient_key": row["patient_key"],
        "reason": row["reason"],
        "source_hospitals": [s for s in sources.split(",") if s],
        "outcome": row["outcome"],
    }


def _print_table(rows: list[BreakGlassReview], first_day: date) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"Break-glass accesses since {first_day.isoformat()} (Asia/Bangkok)")
    for column in ("time", "licence", "hospital", "patient key", "reason", "sources", "outcome"):
        table.add_column(column, overflow="fold")
    for row in rows:
        cells = (
            row["time"],
            row["licence"] or "",
            row["hospital"] or "",
            row["patient_key"] or "",
            row["reason"] or "",
            ", ".join(row["source_hospitals"]),
            row["outcome"],
        )
        table.add_row(*(Text(cell) for cell in cells))  # Text: a reason is not rich markup
    console = Console(width=160)
    console.print(table)
    console.print(f"{len(rows)} break-glass access(es)")
