"""A Celery worker preloads the DAG's and the tasks' modules before it forks a task process.

The task process is a bare fork of the worker (Airflow 3 on Linux), so what the worker built
is already there: no import of Airflow's DAG dependencies, Great Expectations or dbt, no new
validation context or suite. Checked in a fresh interpreter that plays the worker: it wires
the preload as airflow_local_settings.py does, receives Celery's `worker_init` signal, then
forks a child that does what a hospital task does first.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.airflow_harness import REPO, airflow_environment

WORKER = """
import json, os, sys
HEAVY = ("great_expectations", "cosmos.converter", "dbt.cli.main", "warehouse.pipeline.daily_run")
from warehouse.pipeline.worker_preload import preload_on_worker_start
cold = [name for name in HEAVY if name in sys.modules]
preload_on_worker_start()
from celery.signals import worker_init
worker_init.send(sender=None)
from expectations import gx_context
in_worker = dict(gx_context.BUILT)
read, write = os.pipe()
if os.fork() == 0:  # the task process
    loaded = [name for name in HEAVY if name in sys.modules]
    from connectors.contract import ENTITIES
    from expectations.suites import suite_for
    from warehouse.pipeline.daily_run import sync_hospital  # noqa: F401
    gx_context.context()
    for entity in ENTITIES:
        suite_for(entity)
    os.write(write, json.dumps({"loaded": loaded, "built": dict(gx_context.BUILT)}).encode())
    os._exit(0)
os.close(write)
child = json.loads(os.read(read, 1 << 16))
print(json.dumps({"cold": cold, "in_worker": in_worker, **child}))
"""


def test_a_forked_task_process_starts_warm(tmp_path: Path) -> None:
    env = airflow_environment(tmp_path / "airflow", tmp_path / "home", tmp_path / "registry")
    result = subprocess.run(
        [sys.executable, "-c", WORKER],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # wiring the preload loads nothing: the scheduler and API server read the same settings
    assert report["cold"] == []
    # the worker built the context and every suite once ...
    assert report["in_worker"]["context"] == 1 and report["in_worker"]["suite"] >= 9
    # ... and the task process found everything loaded and built nothing again
    assert report["loaded"] == [
        "great_expectations", "cosmos.converter", "dbt.cli.main", "warehouse.pipeline.daily_run"
    ]  # fmt: skip
    assert report["built"] == report["in_worker"]
