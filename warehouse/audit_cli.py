"""`healthlink audit ...`: check the access audit chain (wired into warehouse.cli as `audit`).

Prints sequence numbers and counts only, never the content of an audit record.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(help="Access audit: verify the hash chain", no_args_is_help=True)


def head_dir(home: Path) -> Path:
    """Where the chain head is exported, outside the database."""
    return (home / "audit-head").resolve()


@app.command()
def verify(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Recompute the chain; exit 1 on a modified, deleted or truncated record."""
    from warehouse.audit import ensure_audit_schema
    from warehouse.audit import verify as verify_chain
    from warehouse.db import connect
    from warehouse.settings import get_settings

    settings = get_settings()
    with connect(settings) as conn:
        ensure_audit_schema(conn)
        result = verify_chain(conn, head_dir(settings.home))
    if as_json:
        sys.stdout.write(json.dumps({"rows": result.rows, "problems": result.problems}) + "\n")
    else:
        for problem in result.problems:
            sys.stdout.write(f"FAIL {problem}\n")
        status = "ok" if result.ok else f"{len(result.problems)} problem(s)"
        sys.stdout.write(f"audit chain: {result.rows} records, {status}\n")
    if not result.ok:
        raise typer.Exit(1)


@app.command("export-head")
def export_head_command() -> None:
    """Export the current chain head now (also done by the API at intervals)."""
    from warehouse.audit import ensure_audit_schema, export_head
    from warehouse.db import connect
    from warehouse.settings import get_settings

    settings = get_settings()
    with connect(settings) as conn:
        ensure_audit_schema(conn)
        seq, _ = export_head(conn, head_dir(settings.home))
    sys.stdout.write(f"exported head at record {seq}\n")
