"""`make demo`: generate a small country, run the daily DAG for two days, show the result
(one hospital quarantined on day two and one late, for the operations views; one hospital
sending FHIR bulk exports and, when a MariaDB server answers, one read from its HOSxP
database, beside the 43-file ones).

Runs the real DAG with `airflow dags test` in a throwaway AIRFLOW_HOME under the demo
directory, on the embedded DuckDB warehouse, or wholly on PostgreSQL when
HEALTHLINK_WAREHOUSE holds a postgresql:// URL (every step, the summary and the demo
physician then go there).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

from rich.console import Console

from warehouse.api.records import CATEGORY_VIEWS as RECORD_CATEGORY_VIEWS
from warehouse.cli.demo_sources import add_connector_hospitals

REPO = Path(__file__).resolve().parents[2]
# The nine published category views, as the API reads them.
CATEGORY_VIEWS = tuple(view for _, view in RECORD_CATEGORY_VIEWS)
console = Console()


def demo_environment(out: Path) -> dict[str, str]:
    airflow_home = out / "airflow"
    return {
        **os.environ,
        "HEALTHLINK_HOME": str(out / "warehouse"),
        "HEALTHLINK_REGISTRY_DIR": str(out / "registry"),
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        # `airflow dags test` cannot run a DAG with a deadline (dags/healthlink_daily_sync.py).
        "HEALTHLINK_RUN_DEADLINE_HOURS": "0",
        "DO_NOT_TRACK": "1",
        "SCARF_ANALYTICS": "false",
        "GX_ANALYTICS_ENABLED": "False",
    }


def _run(args: list[str], env: dict[str, str], quiet: bool = False) -> None:
    result = subprocess.run(args, env=env, capture_output=quiet, text=True)
    if result.returncode != 0:
        if quiet:
            sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit(f"failed: {' '.join(args[:3])} (exit {result.returncode})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=REPO / ".demo")
    parser.add_argument("--start", default="2026-11-23")
    parser.add_argument("--hospitals", type=int, default=6)
    parser.add_argument("--patients", type=int, default=1000)
    args = parser.parse_args()
    out: Path = args.out.resolve()
    start = date.fromisoformat(args.start)
    env = demo_environment(out)
    bin_dir = Path(sys.executable).parent
    healthlink = [str(bin_dir / "healthlink")]

    console.rule("1. synthetic hospitals, extracts and consent registrations")
    _run(
        [
            *healthlink,
            "generate",
            "--out",
            str(out),
            "--hospitals",
            str(args.hospitals),
            "--patients",
            str(args.patients),
            "--days",
            "2",
            "--start",
            start.isoformat(),
            "--error-rate",
            "0.002",
        ],
        env,
    )
    quarantined, late = _stage_operations_cases(out, start)
    console.rule("1b. hospitals on other connectors: FHIR bulk export, HOSxP database")
    sources = add_connector_hospitals(out, start, console)
    _run([*healthlink, "check"], env)
    _run([*healthlink, "migrate"], env)
    for feed in [out / "consent" / "registrations.csv", *sources.registrations]:
        _run([*healthlink, "consent", "import", str(feed)], env)

    console.rule("2. Airflow metadata database (throwaway AIRFLOW_HOME)")
    _run([str(bin_dir / "airflow"), "db", "migrate"], env, quiet=True)

    for day in (start, start + timedelta(days=1)):
        console.rule(f"3. airflow dags test healthlink_daily_sync {day}")
        _run(
            [str(bin_dir / "airflow"), "dags", "test", "healthlink_daily_sync", day.isoformat()],
            env,
            quiet=True,
        )
        # `airflow dags test` exits 0 for a failed run: the metadata database has the truth.
        state = _last_run_state(Path(env["AIRFLOW_HOME"]))
        if state != "success":
            raise SystemExit(f"DAG run for {day} ended in state {state!r} (see healthlink status)")
        console.print(f"[green]DAG run for {day} succeeded[/green] (state in the metadata db)")

    console.rule("4. run summary")
    _run([*healthlink, "status"], env)
    _show_published(env)
    console.rule("6. operations: the ledger, data quality and alerts")
    console.print(
        f"Staged for operations: hospital {quarantined} sends a broken extract on day two "
        f"(quarantined), hospital {late} sends nothing (late against its freshness promise)."
    )
    _run([*healthlink, "ops", "report", "--days", "2"], env)
    console.print(f"Hospitals read from other connectors: {', '.join(sources.codes)}")
    _add_demo_physician(healthlink, env, out)


def _stage_operations_cases(out: Path, start: date) -> tuple[str, str]:
    """One demo day with something for operations to see: the last hospital's second-day
    SERVICE file has the wrong delimiter (the batch is quarantined, the run still succeeds),
    and the one before sends nothing at all (missing both days, past its freshness promise)."""
    codes = sorted(p.stem for p in (out / "registry" / "hospitals").glob("*.yml"))
    quarantined, late = codes[-1], codes[-2]
    service = out / "extracts" / quarantined / (start + timedelta(days=1)).isoformat()
    service /= "SERVICE.txt"
    service.write_bytes(service.read_bytes().replace(b"|", b"\t"))
    shutil.rmtree(out / "extracts" / late)
    return quarantined, late


def _last_run_state(airflow_home: Path) -> str | None:
    import sqlite3

    with sqlite3.connect(airflow_home / "airflow.db") as db:
        row = db.execute(
            "SELECT state FROM dag_run WHERE dag_id = 'healthlink_daily_sync' "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
    return None if row is None else str(row[0])


# A synthetic physician for trying the viewer on the demo warehouse (`make serve`).
DEMO_LICENCE = "99999"
DEMO_PINCODE = "246810"
# And an operations account for the operations page (synthetic, demo only).
DEMO_OPS_USER = "demo-ops"
DEMO_OPS_PASSWORD = "demo-ops-password"


def _add_demo_physician(healthlink: list[str], env: dict[str, str], out: Path) -> None:
    first_hospital = sorted(p.stem for p in (out / "registry" / "hospitals").glob("*.yml"))[0]
    result = subprocess.run(
        [
            *healthlink,
            "api",
            "add-physician",
            "--licence",
            DEMO_LICENCE,
            "--name",
            "แพทย์ทดลอง ระบบสาธิต",
            "--hospital",
            first_hospital,
        ],
        env={**env, "HEALTHLINK_NEW_PINCODE": DEMO_PINCODE},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 and "exists" not in (result.stdout + result.stderr):
        raise SystemExit(f"could not add the demo physician: {result.stderr[-500:]}")
    _add_demo_ops_account(healthlink, env)
    console.rule("7. physician viewer and operations page")
    console.print(
        f"make serve, then open http://127.0.0.1:8000/ and log in with licence "
        f"{DEMO_LICENCE}, pincode {DEMO_PINCODE} (synthetic demo account, hospital {first_hospital})"
    )
    console.print(
        f"Operations page: http://127.0.0.1:8000/ops/ (user {DEMO_OPS_USER}, password "
        f"{DEMO_OPS_PASSWORD}; demo account): the ledger heatmap shows the quarantined and the "
        "late hospital of day two"
    )


def _add_demo_ops_account(healthlink: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(
        [*healthlink, "api", "add-ops", DEMO_OPS_USER],
        env={**env, "HEALTHLINK_NEW_OPS_PASSWORD": DEMO_OPS_PASSWORD},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 and "exists" not in (result.stdout + result.stderr):
        raise SystemExit(f"could not add the demo ops account: {result.stderr[-500:]}")


def _show_published(env: dict[str, str]) -> None:
    from warehouse.settings import Settings
    from warehouse.storage.connection import connect

    # The demo's own settings, read from the environment its steps ran with.
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        settings = Settings()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    console.rule("5. published views (rows per category and source hospital)")
    missing = []
    with connect(settings) as conn:
        for view in CATEGORY_VIEWS:
            rows, hospitals = conn.execute(
                f"SELECT count(*), count(DISTINCT hospital_code) FROM published.{view}"
            ).fetchone()
            console.print(f"published.{view:<20} {rows:>8} rows from {hospitals} hospitals")
            if rows == 0:
                missing.append(view)
    if settings.warehouse:
        console.print("\nWarehouse: PostgreSQL (HEALTHLINK_WAREHOUSE)")
    else:
        path = settings.duckdb_path
        console.print(f"\nWarehouse file: [bold]{path}[/bold]")
        console.print(
            "Query a published view (DuckDB's single writer: stop other healthlink processes first):\n"
            f"  .venv/bin/python -c \"import duckdb; print(duckdb.connect('{path}', read_only=True)"
            ".sql('select hospital_name, icd10_code, diagnosis_name_th, service_date from published.diagnosis limit 5'))\""
        )
    if missing:
        raise SystemExit(f"published views without rows: {', '.join(missing)}")


if __name__ == "__main__":
    main()
