"""`healthlink ops ...`: operations' view of the daily sync (wired into warehouse.cli.main as
`ops`).

`report` reads the ledger (ops.hospital_day, one row per hospital and day), the
data-quality history (ops.dq_entity_day, ops.dq_reject_rule) and dbt's code coverage
(marts.rpt_unmapped_codes): codes and counts only, never personal data.
"""

from __future__ import annotations

from typing import Annotated

import typer

from warehouse.cli import common

app = typer.Typer(help="Operations: the ledger and data-quality history", no_args_is_help=True)

# The hospitals table without --hospital shows the ones needing attention first, at most this
# many (--json has them all).
SHOWN_HOSPITALS = 50

DAILY_COLUMNS = [
    "extract_date",
    "expected",
    "loaded",
    "quarantined",
    "failed",
    "missing",
    "sla_breached",
    *common.ROW_COUNTS,
]
HOSPITAL_COLUMNS = [
    "hospital_code",
    "last_status",
    "last_reason_code",
    "data_as_of",
    "lag_days",
    "freshness_sla_days",
    "days_loaded",
    "days_quarantined",
    "days_failed",
    "days_missing",
    "days_sla_breached",
]


def _needs_attention(row: dict[str, object]) -> bool:
    return row["last_status"] != "loaded" or bool(row["days_sla_breached"])


@app.command()
def report(
    hospital: Annotated[
        str | None, typer.Option("--hospital", help="MOPH hospital code (default: all)")
    ] = None,
    days: Annotated[
        int, typer.Option("--days", min=1, help="The last N days the ledger holds")
    ] = 7,
    json_output: common.JsonFlag = False,
) -> None:
    """The ledger per day and hospital (status, lag against the freshness promise), the
    reject-rate trend per entity with the top reject rules, and the code coverage per hospital
    and code system (unmapped and unclassified rows, marts.rpt_unmapped_codes)."""
    from warehouse.pipeline.ops import COVERAGE_COLUMNS, ledger_window, ops_report
    from warehouse.storage.connection import connect
    from warehouse.storage.schema import setup_schema

    with connect() as conn:
        setup_schema(conn)
        window = ledger_window(conn, days)
        data = ops_report(conn, *window, hospital) if window else {}
    if json_output:
        first, last = window or (None, None)
        common.emit_json({"first": first, "last": last, "hospital": hospital, **data})
        return
    if window is None:
        common.console.print("the ledger is empty: no daily run has finished yet")
        return
    scope = f"hospital {hospital}" if hospital else "all hospitals"
    title = f"{scope}, {window[0]} to {window[1]}"
    common.console.print(common.table(f"Ledger per day: {title}", data["daily"], DAILY_COLUMNS))
    hospitals = data["hospitals"]
    if not hospital:
        hospitals = [row for row in hospitals if _needs_attention(row)]
    common.console.print(
        common.table(
            "Hospitals" if hospital else "Hospitals needing attention (not loaded, or late)",
            hospitals[:SHOWN_HOSPITALS],
            HOSPITAL_COLUMNS,
        )
    )
    if len(hospitals) > SHOWN_HOSPITALS:
        common.console.print(f"... and {len(hospitals) - SHOWN_HOSPITALS} more (--json)")
    rates = [
        {**row, "reject_rate": None if row["reject_rate"] is None else f"{row['reject_rate']:.2%}"}
        for row in data["reject_rates"]
    ]
    common.console.print(
        common.table(
            f"Reject rate per day and entity: {title}",
            rates,
            ["extract_date", "entity", "rows_read", "rows_rejected", "reject_rate"],
        )
    )
    common.console.print(
        common.table(
            "Top reject rules", data["top_rules"], ["entity", "rule", "rejects", "hospitals"]
        )
    )
    coverage = [
        {**row, "unmapped_share": f"{row['unmapped_share']:.2%}"} for row in data["coverage"]
    ]
    common.console.print(
        common.table(
            f"Code coverage per hospital and code system, worst first: {title}",
            coverage[:SHOWN_HOSPITALS],
            COVERAGE_COLUMNS,
        )
    )
    if len(coverage) > SHOWN_HOSPITALS:
        common.console.print(f"... and {len(coverage) - SHOWN_HOSPITALS} more (--json)")


ALERT_COLUMNS = [
    "extract_date",
    "condition",
    "hospital_code",
    "count",
    "reason_code",
    "routes",
    "sent",
    "pending",
    "failed",
    "dead",
    "attempts",
    "last_error",
]


@app.command()
def alerts(
    since: Annotated[
        str | None, typer.Option("--since", help="Alerts of extract dates from this day on")
    ] = None,
    deliver: Annotated[
        bool, typer.Option("--deliver", help="First send what is pending and due (the outbox)")
    ] = False,
    json_output: common.JsonFlag = False,
) -> None:
    """The alerts raised from the ledger (ops.alert) with their deliveries' status; --deliver
    drains the outbox first (a sink that fails is recorded and retried later)."""
    from datetime import date

    from warehouse.hospital_registry import load_registry
    from warehouse.pipeline import metrics_snapshot
    from warehouse.pipeline.alerts import drain, list_alerts
    from warehouse.settings import get_settings
    from warehouse.storage.connection import connect
    from warehouse.storage.schema import setup_schema

    first = date.fromisoformat(since) if since else None
    settings = get_settings()
    with connect() as conn:
        setup_schema(conn)
        counts = None
        if deliver:
            counts = drain(conn, load_registry(settings.registry_dir), settings)
            metrics_snapshot.refresh(conn, settings)
        rows = list_alerts(conn, first)
    if json_output:
        common.emit_json({"since": first, "delivered": counts, "alerts": rows})
        return
    if counts is not None:
        common.console.print(
            f"delivered: {counts['sent']} sent, {counts['failed']} failed "
            f"(retried later), {counts['dead']} dead (no more attempts)"
        )
    common.console.print(common.table("Alerts", rows, ALERT_COLUMNS))
