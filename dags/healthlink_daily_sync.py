"""healthlink_daily_sync: every participating hospital's extract for a day, end to end.

list hospitals → one mapped task per hospital (extract, consent filter, validate, land,
load; a failure stays with its hospital) → dbt through cosmos → publish → run summary.
The run for date D processes the extracts dated D. Only constants and wiring here: the
work lives in the `warehouse` package.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.sdk import Param, dag, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior

from warehouse.settings import dbt_environment_for

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"
HEALTHLINK_HOME = Path(os.environ.get("HEALTHLINK_HOME", ".healthlink")).resolve()
# HEALTHLINK_WAREHOUSE picks the dbt target too: the DuckDB file or the PostgreSQL URL's
# host/port/user/password/dbname, as dbt_project/profiles.yml reads them.
DBT_ENV = dbt_environment_for(
    os.environ.get("HEALTHLINK_WAREHOUSE", ""), HEALTHLINK_HOME / "warehouse.duckdb"
)
DBT_TARGET = DBT_ENV["DBT_TARGET"]
# Parsed per target (PostgreSQL builds models DuckDB does not): `dbt parse` writes the
# DuckDB manifest to target/, the PostgreSQL one with --target-path target/postgres.
MANIFEST = DBT_PROJECT_DIR / "target" / ("" if DBT_TARGET == "duckdb" else DBT_TARGET)


@dag(
    dag_id="healthlink_daily_sync",
    schedule="0 2 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Bangkok"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=5)},
    params={
        "extract_date": Param(None, type=["null", "string"], description="YYYY-MM-DD override")
    },
    tags=["healthlink", "daily-sync"],
    doc_md=__doc__,
)
def healthlink_daily_sync() -> None:
    @task
    def resolve_extract_date(**context: Any) -> str:
        override = context["params"].get("extract_date")
        if override:
            return str(override)
        return context["logical_date"].in_timezone("Asia/Bangkok").date().isoformat()

    @task
    def list_participating_hospitals(extract_date: str) -> list[str]:
        from datetime import date

        from warehouse.pipeline import prepare_run

        return prepare_run(date.fromisoformat(extract_date))

    # On PostgreSQL the hospitals load in parallel (as many as the executor runs); on DuckDB
    # the writer lock serialises only their short load step.
    @task(retries=0, max_active_tis_per_dagrun=2)
    def sync_hospital(hospital_code: str, extract_date: str, **context: Any) -> dict[str, Any]:
        from datetime import date

        from warehouse.pipeline import sync_hospital as run_sync

        return run_sync(hospital_code, date.fromisoformat(extract_date), context["run_id"])

    @task(trigger_rule="all_done")
    def hospitals_done(summaries: list[dict[str, Any]]) -> int:
        """Waits for every hospital, failed ones included; dbt runs on what loaded."""
        return len(summaries)

    transform = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(
            DBT_PROJECT_DIR,
            manifest_path=MANIFEST / "manifest.json",
            env_vars=DBT_ENV,
        ),
        profile_config=ProfileConfig(
            profile_name="healthlink",
            target_name=DBT_TARGET,
            profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
        ),
        execution_config=ExecutionConfig(invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.AFTER_ALL
        ),
        operator_args={"install_deps": False},
    )

    @task
    def publish_and_summarize(extract_date: str, **context: Any) -> list[dict[str, Any]]:
        from datetime import date

        from warehouse.pipeline import finish_run

        rows = finish_run(context["run_id"], date.fromisoformat(extract_date))
        return [{k: str(v) for k, v in row.items()} for row in rows]

    extract_date = resolve_extract_date()
    hospitals = list_participating_hospitals(extract_date)
    summaries = sync_hospital.partial(extract_date=extract_date).expand(hospital_code=hospitals)
    done = hospitals_done(summaries)
    done >> transform >> publish_and_summarize(extract_date)


healthlink_daily_sync()
