"""The daily DAG under a real scheduler: Airflow's CeleryExecutor with two workers.

Not `airflow dags test`: the production shape of docs/deploy.md, on this machine. Airflow's
metadata and Celery's results in a throwaway PostgreSQL database, the warehouse in another,
Redis at 127.0.0.1:6379 as the broker (a database number of its own, claimed for the test),
and five processes: the API server (the workers report to its execution API), the DAG
processor, the scheduler and two Celery workers, each with its own host name and its own
queue besides `default` (a cluster policy, bench/celery_workers.py, sends alternate
hospitals to each). A run is triggered for a logical date, like a scheduled one, and the test
reads the outcome from the metadata database: the run's state, every task instance's state
and the worker that ran it, and the published rows from the warehouse.

Slow (15 minutes on this shared 2-core machine at load average 15: over 100 task processes,
each forked from a worker that preloaded the DAG's modules, then dbt's model tasks one by one):
`make test-long` runs it, `make test` skips it. It
fails, never skips, when PostgreSQL or Redis does not answer (scripts/ensure_services.sh starts
both). The failing-hospital case is left to `airflow dags test`
(test_daily_sync_dag.py::test_a_failed_hospital_fails_the_run_after_the_others_publish): the
verdict comes from the same judge_run task whatever the executor, and a second run here would
double the time.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.celery_cluster import WORKERS, CeleryCluster, claimed_redis_database
from bench.celery_workers import HOSPITAL_QUEUES, is_hospital_task
from tests.support.airflow_harness import ensure_manifest
from tests.support.dag_deployment import CATEGORIES, PostgresDeployment
from tests.support.machine import START, throwaway_pg_database

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CLAIM_KEY = "healthlink:celery-test:claim"
RUN_TIMEOUT_S = 1500
ROUTING_POLICY = "from bench.celery_workers import task_instance_mutation_hook  # noqa: F401\n"


@pytest.fixture(scope="module")
def redis_broker() -> Iterator[str]:
    """A Redis database number no one else uses; a missing Redis is an error, never a skip."""
    with claimed_redis_database(CLAIM_KEY) as broker:
        yield broker


@pytest.fixture(scope="module")
def celery(
    small_dataset: Path, tmp_path_factory: pytest.TempPathFactory, redis_broker: str
) -> Iterator[tuple[PostgresDeployment, CeleryCluster]]:
    ensure_manifest("postgres")
    with (
        throwaway_pg_database("healthlink_celery_wh") as warehouse_url,
        throwaway_pg_database("healthlink_celery_airflow") as airflow_url,
    ):
        root = tmp_path_factory.mktemp("celery")
        dataset = root / "dataset"
        shutil.copytree(small_dataset, dataset)
        deployment = PostgresDeployment(root, dataset, warehouse_url)
        cluster = CeleryCluster(
            deployment.env,
            airflow_url,
            redis_broker,
            root / "logs",
            worker_queues=HOSPITAL_QUEUES,
            local_settings=ROUTING_POLICY,
        )
        cluster.migrate()
        deployment.healthlink("migrate")
        deployment.healthlink("consent", "import", str(dataset / "consent" / "registrations.csv"))
        try:
            cluster.start_all()
            cluster.wait_until_ready()
            yield deployment, cluster
        finally:
            cluster.stop_all()


def test_the_day_runs_on_two_celery_workers(
    celery: tuple[PostgresDeployment, CeleryCluster],
) -> None:
    deployment, cluster = celery
    run_id = cluster.trigger(START, prefix="celery_test")
    state = cluster.wait_for_run(run_id, RUN_TIMEOUT_S)
    instances = cluster.task_instances(run_id)
    assert state == "success", (instances, cluster.diagnostics())

    # Every task instance succeeded; the only others are the parts of regions without
    # hospitals, whose mapped task expanded to nothing (skipped, never run).
    not_success = [
        (task_id, map_index, ti_state)
        for task_id, map_index, _, ti_state, _, _ in instances
        if ti_state != "success"
    ]
    assert all(
        ti_state == "skipped" and ".sync_part_" in task_id and map_index == -1
        for task_id, map_index, ti_state in not_success
    ), not_success
    assert any(task_id.startswith("dbt.") for task_id, *_ in instances)
    assert ("judge_run", -1) in {(task_id, map_index) for task_id, map_index, *_ in instances}

    # One task per hospital, named by its code, and the hospitals ran on both workers.
    hospitals = {p.stem for p in (deployment.dataset / "registry" / "hospitals").glob("*.yml")}
    hospital_tasks = [row for row in instances if is_hospital_task(row[0], row[1])]
    assert {row[2] for row in hospital_tasks} == hospitals
    assert {row[3] for row in hospital_tasks} == {"success"}
    assert {row[4] for row in hospital_tasks} == set(WORKERS), hospital_tasks
    # each on the worker serving the queue the policy gave it
    worker_of_queue = dict(zip(HOSPITAL_QUEUES, WORKERS, strict=True))
    assert all(worker_of_queue[row[5]] == row[4] for row in hospital_tasks), hospital_tasks
    # ... and nothing ran outside the workers (the scheduler only queues).
    assert {hostname for *_, ti_state, hostname, _ in instances if ti_state == "success"} <= set(
        WORKERS
    )

    # The warehouse has the day published, from every hospital.
    summary = deployment.query(
        "SELECT hospital_code, status FROM ops.run_summary WHERE extract_date = ?", [START]
    )
    assert dict(summary) == {code: "loaded" for code in hospitals}
    for category in CATEGORIES:
        ((rows, sources),) = deployment.query(
            f"SELECT count(*), count(DISTINCT hospital_code) FROM published.{category}"
        )
        assert rows > 0 and sources == len(hospitals), category
