"""healthlink_daily_sync: every participating hospital's extract for a day, end to end.

prepare (registry mirror, consent effects) → per health region, list its hospitals → one
mapped task per hospital (extract, consent filter, validate, land, load; a failure stays
with its hospital) → dbt through cosmos → publish → run summary →
judge_run, which fails the run when any hospital failed (never a false green).
The run for date D processes the extracts dated D. Only constants and wiring here: the
work lives in the `warehouse` package.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pendulum
from airflow.providers.common.compat.lineage.entities import Table
from airflow.sdk import Param, TaskGroup, dag, task
from airflow.sdk.definitions.deadline import AsyncCallback, DeadlineAlert, DeadlineReference
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior
from cosmos.operators.local import DbtBuildLocalOperator

from warehouse.pipeline.lineage import EXTRACTS_NAME, EXTRACTS_NAMESPACE, raw_tables
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
# After every dbt task, its tests' results into ops.dbt_test_result (resolved when it runs).
DBT_TEST_RESULTS = "warehouse.pipeline.transform.record_project_test_results"
# Hospitals are mapped per health region (1-13, Bangkok 13), each region in parts of at most
# warehouse.pipeline.daily_run.MAX_HOSPITALS_PER_MAP (under Airflow's max_map_length of 1024): 13 x 2
# parts hold 26,000 hospitals, every one its own task. Static, so the DAG parses without I/O.
HEALTH_REGIONS = range(1, 14)
PARTS_PER_REGION = 2
# OpenLineage (apache-airflow-providers-openlineage, on when [openlineage] transport is set):
# each hospital's sync reads the hospital extracts and writes raw.*, named as cosmos names
# dbt's sources, so a catalogue sees hospital → raw → marts → published (docs/operations.md).
SYNC_INLETS = [Table(cluster=EXTRACTS_NAMESPACE, database="hospitals", name=EXTRACTS_NAME)]
SYNC_OUTLETS = [
    Table(cluster=t.namespace, database=t.database, name=t.table) for t in raw_tables(DBT_ENV)
]


# The day's run must be finished by 08:00 Bangkok (HEALTHLINK_RUN_DEADLINE_HOURS after 02:00).
# 0 turns the deadline off: `airflow dags test` (Airflow 3.3.2) cannot run a DAG that has one
# (it looks the alert up by its serialized form, fails, and leaves the run "running"), so
# `make demo` and the tests that drive `dags test` set 0; a scheduled deployment keeps it.
RUN_DEADLINE_HOURS = float(os.environ.get("HEALTHLINK_RUN_DEADLINE_HOURS", "6"))
# Not finished in time: the triggerer runs the callback, which raises `run_late` through the
# alert outbox (docs/operations.md "Alerts").
RUN_LATE = (
    DeadlineAlert(
        reference=DeadlineReference.DAGRUN_LOGICAL_DATE,
        interval=timedelta(hours=RUN_DEADLINE_HOURS),
        callback=AsyncCallback("warehouse.pipeline.late_run.run_late_callback"),
        name="run_late",
    )
    if RUN_DEADLINE_HOURS > 0
    else None
)


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
    deadline=RUN_LATE,
)
def healthlink_daily_sync() -> None:
    @task
    def resolve_extract_date(**context: Any) -> str:
        override = context["params"].get("extract_date")
        if override:
            return str(override)
        return context["logical_date"].in_timezone("Asia/Bangkok").date().isoformat()

    @task
    def prepare(extract_date: str) -> int:
        """Mirror the registry and apply consent's effects before any hospital loads."""
        from datetime import date

        from warehouse.pipeline.daily_run import prepare_run

        return len(prepare_run(date.fromisoformat(extract_date)))

    @task
    def list_region_hospitals(extract_date: str, region: int, part: int) -> list[str]:
        """This part of the region's participating hospitals (codes only: safe for XCom)."""
        from datetime import date

        from warehouse.pipeline.daily_run import region_hospitals

        return region_hospitals(date.fromisoformat(extract_date), region, part, PARTS_PER_REGION)

    # On PostgreSQL the hospitals load in parallel (as many as the executor runs); on DuckDB
    # the writer lock serialises only their short load step. Each mapped instance is named
    # by its hospital code in the grid.
    @task(
        retries=0,
        max_active_tis_per_dagrun=2,
        map_index_template="{{ hospital_code }}",
        inlets=SYNC_INLETS,
        outlets=SYNC_OUTLETS,
    )
    def sync_hospital(hospital_code: str, extract_date: str, **context: Any) -> dict[str, Any]:
        from datetime import date

        from warehouse.pipeline.daily_run import sync_hospital as run_sync

        context["hospital_code"] = hospital_code
        return run_sync(hospital_code, date.fromisoformat(extract_date), context["run_id"])

    @task(trigger_rule="all_done")
    def hospitals_done() -> None:
        """Waits for every hospital, failed ones included; dbt runs on what loaded."""

    transform = _dbt_step()

    @task
    def publish_and_summarize(extract_date: str, **context: Any) -> list[dict[str, Any]]:
        from datetime import date

        from warehouse.pipeline.daily_run import finish_run

        rows = finish_run(context["run_id"], date.fromisoformat(extract_date))
        return [{k: str(v) for k, v in row.items()} for row in rows]

    @task(trigger_rule="all_done", retries=0)
    def judge_run(extract_date: str, **context: Any) -> dict[str, Any]:
        """The last word on the run: it fails (and so the run) when a hospital failed, a
        participating hospital was never processed, or nothing was published. Quarantined
        and missing extracts are listed, not failed."""
        from datetime import date

        from airflow.exceptions import AirflowFailException

        from warehouse.pipeline.daily_run import RunFailed, judge_run, raise_unless_green

        verdict = judge_run(context["run_id"], date.fromisoformat(extract_date))
        try:
            raise_unless_green(verdict)
        except RunFailed as failure:
            raise AirflowFailException(str(failure)) from None
        return verdict.to_dict()

    extract_date = resolve_extract_date()
    prepared = prepare(extract_date)
    done = hospitals_done()
    for region in HEALTH_REGIONS:
        with TaskGroup(group_id=f"region_{region:02d}"):
            for part in range(PARTS_PER_REGION):
                codes = list_region_hospitals.override(task_id=f"list_part_{part}")(
                    extract_date, region, part
                )
                prepared >> codes
                synced = sync_hospital.override(task_id=f"sync_part_{part}").partial(
                    extract_date=extract_date
                ).expand(hospital_code=codes)
                synced >> done
    published = publish_and_summarize(extract_date)
    done >> transform >> published >> judge_run(extract_date)


def _dbt_step() -> TaskGroup:
    """dbt after the hospitals. On PostgreSQL, one cosmos task per model (tests after all of
    them), so independent models build side by side on any executor. On DuckDB one
    `dbt build`: the file has one writer, and cosmos's model tasks run in parallel under the
    LocalExecutor or Celery would fail to open it (docs/deploy.md)."""
    profile = ProfileConfig(
        profile_name="healthlink",
        target_name=DBT_TARGET,
        profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
    )
    if DBT_TARGET == "duckdb":
        with TaskGroup(group_id="dbt") as group:
            DbtBuildLocalOperator(
                task_id="build",
                project_dir=str(DBT_PROJECT_DIR),
                profile_config=profile,
                env=DBT_ENV,
                install_deps=False,
                invocation_mode=InvocationMode.DBT_RUNNER,
                callback=DBT_TEST_RESULTS,
            )
        return group
    return DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(
            DBT_PROJECT_DIR,
            manifest_path=MANIFEST / "manifest.json",
            env_vars=DBT_ENV,
        ),
        profile_config=profile,
        execution_config=ExecutionConfig(invocation_mode=InvocationMode.DBT_RUNNER),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.AFTER_ALL
        ),
        operator_args={"install_deps": False, "callback": DBT_TEST_RESULTS},
    )


healthlink_daily_sync()
