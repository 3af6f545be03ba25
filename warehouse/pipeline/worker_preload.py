"""What a Celery worker loads once, so that the process it forks for each task starts warm.

Airflow 3's Celery worker runs every task in a process forked from its pool process (on
Linux a bare `os.fork`, no new interpreter). That child parses the DAG file (Airflow, cosmos
and the dbt manifest) and the task body imports the pipeline (Great Expectations, pyarrow,
psycopg) and, for a dbt model, dbt. Measured on this 2-core machine under load: importing
`warehouse.pipeline.daily_run` alone took 8 s in a process that already had Airflow, and the
DAG file 1.8 s more; a national day pays it for each of 1,100 hospital tasks. Imported and
built here, before the pool forks, every task inherits them (copy-on-write) and pays only
what is its own. Each hospital keeps its own task, process, retries and isolation.

Wired through Airflow's `airflow_local_settings.py` (docs/deploy.md):

    from warehouse.pipeline.worker_preload import preload_on_worker_start
    preload_on_worker_start()

Nothing here opens a connection or a file for writing: a socket or a transaction inherited
across a fork would be shared by every task.
"""

from __future__ import annotations

import importlib
import runpy
from pathlib import Path
from typing import Any

DAG_FILE = "healthlink_daily_sync.py"
# What the DAG's task bodies import (dags/healthlink_daily_sync.py imports them inside the
# tasks, so that parsing stays cheap for the DAG processor), and dbt for cosmos's model tasks.
TASK_MODULES = (
    "warehouse.pipeline.daily_run",
    "warehouse.pipeline.transform",
    "dbt.cli.main",
)


def preload(dags_folder: Path) -> None:
    """Parse the DAG file once (its imports stay loaded), import what the tasks import, and
    build the Great Expectations context and every entity's suite."""
    dag_file = dags_folder / DAG_FILE
    if dag_file.is_file():
        runpy.run_path(str(dag_file))
    for name in TASK_MODULES:
        importlib.import_module(name)
    from connectors.contract import ENTITIES
    from expectations import gx_context
    from expectations.suites import suite_for

    gx_context.warm()
    for entity in ENTITIES:
        suite_for(entity)


def preload_on_worker_start() -> None:
    """Preload when a Celery worker starts, before its pool forks (Celery's `worker_init`
    signal runs in the worker's main process; `worker_process_init` would run in each pool
    process under Celery's 4-second start-up limit). Any other Airflow process that reads the
    local settings (scheduler, API server) is left as it was."""
    from celery.signals import worker_init

    worker_init.connect(_on_worker_init, weak=False)


def _on_worker_init(**_: Any) -> None:
    from airflow.configuration import conf

    preload(Path(conf.get("core", "dags_folder")))
