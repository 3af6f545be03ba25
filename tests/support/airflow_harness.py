"""Runs the real DAG with `airflow dags test` in a throwaway AIRFLOW_HOME.

Airflow reads its configuration once per process, so every Airflow run happens in a
subprocess with its own environment instead of inside the pytest worker.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def airflow_environment(
    airflow_home: Path, healthlink_home: Path, registry_dir: Path
) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "HEALTHLINK_HOME": str(healthlink_home),
        "HEALTHLINK_REGISTRY_DIR": str(registry_dir),
        "HEALTHLINK_ENVIRONMENT": "test",
        # `airflow dags test` cannot run a DAG with a deadline (dags/healthlink_daily_sync.py).
        "HEALTHLINK_RUN_DEADLINE_HOURS": "0",
        "DO_NOT_TRACK": "1",
        "SCARF_ANALYTICS": "false",
        "GX_ANALYTICS_ENABLED": "False",
    }


def ensure_manifest(target: str = "duckdb") -> None:
    """The manifest the DAG renders from, parsed for its dbt target (see the DAG)."""
    target_path = "target" if target == "duckdb" else f"target/{target}"
    # PostgreSQL: parsed every time (cheap, partial parse), so it never lags the models.
    if target != "duckdb" or not (REPO / "dbt_project" / target_path / "manifest.json").exists():
        subprocess.run(
            [
                str(BIN / "dbt"),
                "parse",
                "--profiles-dir",
                ".",
                "--quiet",
                "--target",
                target,
                "--target-path",
                target_path,
            ],
            cwd=REPO / "dbt_project",
            check=True,
            env={**os.environ, "HEALTHLINK_DUCKDB_PATH": "/tmp/healthlink-parse.duckdb"},
        )


def migrate(env: dict[str, str]) -> None:
    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(BIN / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True, text=True
    )


def dags_test(env: dict[str, str], day: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "airflow"), "dags", "test", "healthlink_daily_sync", day],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


DAGBAG_SCRIPT = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag()
dag = bag.dags.get("healthlink_daily_sync")
print(json.dumps({
    "import_errors": {k: str(v)[:500] for k, v in bag.import_errors.items()},
    "dag_ids": sorted(bag.dag_ids),
    "tags": sorted(dag.tags) if dag else [],
    "tasks": sorted(t.task_id for t in dag.tasks) if dag else [],
    "retries": {t.task_id: t.retries for t in dag.tasks} if dag else {},
    "leaves": sorted(t.task_id for t in dag.leaves) if dag else [],
    "timezone": str(dag.timezone) if dag else None,
}))
"""


def parse_dagbag(env: dict[str, str]) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", DAGBAG_SCRIPT], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])
