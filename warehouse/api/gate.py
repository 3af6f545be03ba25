"""The per-visit gate, rendered once from the dbt macro (DESIGN §6: one definition).

At startup the API compiles the analysis `api_per_visit_gate` (the macro applied to a view
aliased `gated`) into a private target directory and keeps the SQL. Each request then sets
the physician variables the macro reads, in its own transaction.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from warehouse.api.physicians import HOSPITAL_PATTERN, LICENCE_PATTERN
from warehouse.settings import Settings
from warehouse.storage.connection import WarehouseConnection

ANALYSIS = "api_per_visit_gate"


def compile_gate(settings: Settings) -> str:
    """Compiled in a child process: dbt-duckdb keeps its database handle open for the life
    of the process, which would lock other processes (the CLI, the DAG) out of the file."""
    with tempfile.TemporaryDirectory(prefix="healthlink-gate-") as target:
        subprocess.run(
            [sys.executable, "-m", "warehouse.api.gate", target],
            check=True,
            env=_child_environment(settings),
            stdout=subprocess.DEVNULL,
        )
        (compiled,) = Path(target).rglob(f"{ANALYSIS}.sql")
        return compiled.read_text("utf-8").strip()


def _child_environment(settings: Settings) -> dict[str, str]:
    import os

    return {
        **os.environ,
        "HEALTHLINK_HOME": str(settings.home.resolve()),
        "HEALTHLINK_WAREHOUSE": settings.warehouse,
        "HEALTHLINK_REGISTRY_DIR": str(settings.registry_dir.resolve()),
        "HEALTHLINK_ENVIRONMENT": settings.environment,
        "HEALTHLINK_PSEUDONYM_KEY": settings.pseudonym_key.get_secret_value(),
    }


def set_physician(conn: WarehouseConnection, licence: str, hospital_code: str) -> None:
    """Who the gate evaluates for, for this transaction (PostgreSQL) / connection (DuckDB)."""
    # Both values are checked against strict patterns at login; re-checked here because
    # they flow into session state.
    if not (LICENCE_PATTERN.match(licence) and HOSPITAL_PATTERN.match(hospital_code)):
        raise ValueError("physician identity has an unexpected format")
    if conn.dialect == "postgres":
        conn.execute("SELECT set_config('healthlink.physician_licence', ?, true)", [licence])
        conn.execute("SELECT set_config('healthlink.physician_hospital', ?, true)", [hospital_code])
    else:
        conn.execute("SET VARIABLE healthlink_physician_licence = ?", [licence])
        conn.execute("SET VARIABLE healthlink_physician_hospital = ?", [hospital_code])


if __name__ == "__main__":
    from warehouse.pipeline.transform import run_dbt
    from warehouse.settings import get_settings

    run_dbt(["compile", "-s", ANALYSIS, "--target-path", sys.argv[1], "--quiet"], get_settings())
