"""The late-run DeadlineAlert under a real scheduler and triggerer (not `airflow dags test`,
which cannot run a DAG with a deadline: dags/healthlink_daily_sync.py).

The DAG is serialized with a deadline of a second after the logical date
(HEALTHLINK_RUN_DEADLINE_HOURS), and a run is triggered for a logical date days ago, so its
deadline has passed when the run is created. The DAG stays paused: the scheduler schedules no
task of it, so the run cannot finish, and only the deadline machinery acts. The scheduler finds
the expired deadline (SchedulerJobRunner: Deadline.deadline_time < now, Deadline.handle_miss
queues the TriggererCallback), the triggerer runs the AsyncCallback
(warehouse.pipeline.late_run.run_late_callback), and the test reads the `run_late` alert from
the warehouse's outbox, and the metrics snapshot that counts it.

Slow (a scheduler and a triggerer starting Python and Airflow): `make test-long` runs it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tests.support.airflow_harness import BIN, ensure_manifest, migrate
from tests.support.dag_deployment import Deployment

pytestmark = pytest.mark.slow

DAG_ID = "healthlink_daily_sync"
LOGICAL_DATE = "2026-11-20T19:00:00+00:00"  # 02:00 on 2026-11-21 in Bangkok
RUN_DAY = "2026-11-21"
ALERT_WAIT_S = 300


@contextmanager
def airflow_component(env: dict[str, str], name: str, log: Path) -> Iterator[None]:
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(BIN / "airflow"), name],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


def _airflow(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(BIN / "airflow"), *args], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])
    return done.stdout


def _run_late_alerts(deployment: Deployment) -> list[dict[str, object]]:
    listed = json.loads(deployment.healthlink("ops", "alerts", "--json"))
    return [row for row in listed["alerts"] if row["condition"] == "run_late"]


def test_a_missed_deadline_raises_run_late_through_the_triggerer(
    small_dataset: Path, tmp_path: Path
) -> None:
    ensure_manifest()
    dataset = tmp_path / "dataset"
    shutil.copytree(small_dataset, dataset)
    deployment = Deployment(tmp_path, dataset)
    deployment.env["HEALTHLINK_RUN_DEADLINE_HOURS"] = str(1 / 3600)  # a second
    deployment.env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] = "True"
    deployment.env["AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC"] = "1"
    deployment.env["AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC"] = "1"
    migrate(deployment.env)
    deployment.healthlink("migrate")
    _airflow(deployment.env, "dags", "reserialize")
    _airflow(deployment.env, "dags", "trigger", DAG_ID, "--logical-date", LOGICAL_DATE)
    assert _run_late_alerts(deployment) == []

    logs = tmp_path / "logs"
    logs.mkdir()
    with ExitStack() as components:
        for name in ("scheduler", "triggerer"):
            components.enter_context(airflow_component(deployment.env, name, logs / name))
        deadline = time.monotonic() + ALERT_WAIT_S
        while not (late := _run_late_alerts(deployment)):
            if time.monotonic() > deadline:
                tails = {p.name: p.read_text()[-3000:] for p in logs.iterdir()}
                raise AssertionError(f"no run_late alert: {tails}")
            time.sleep(2)

    assert [(row["hospital_code"], row["extract_date"]) for row in late] == [("*", RUN_DAY)]
    assert late[0]["reason_code"] == "deadline"
    snapshot = json.loads((tmp_path / "home" / "ops-metrics.json").read_text())
    assert snapshot["alerts"]["run_late"] == 1
