"""`healthlink metrics serve`: the Prometheus scrape endpoint on its own port.

Wired into warehouse.cli.main as `healthlink metrics`. The app is
warehouse.api.metrics_app (a bearer token, HEALTHLINK_METRICS_TOKEN, required in production);
the values are read from the ops tables at each scrape (docs/operations.md).
"""

from __future__ import annotations

from typing import Annotated

import typer

from warehouse.cli.common import err_console

app = typer.Typer(help="Prometheus metrics of the daily sync", no_args_is_help=True)

# 9464: the port Prometheus exporters of this kind conventionally take (OpenTelemetry's
# Prometheus exporter default), away from the API's.
DEFAULT_PORT = 9464


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind")] = DEFAULT_PORT,
) -> None:
    """Serve GET /metrics (rows loaded and rejected, lag, batch durations, alerts)."""
    import uvicorn

    from warehouse.api.metrics_app import MetricsTokenMissing, create_app

    try:
        metrics_app = create_app()
    except MetricsTokenMissing as refusal:
        err_console.print(f"[red]refused:[/red] {refusal}")
        raise typer.Exit(2) from None
    uvicorn.run(metrics_app, host=host, port=port, log_level="warning", access_log=False)
