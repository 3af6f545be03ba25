"""How a Celery cluster on one machine tells its workers apart, and how the CeleryExecutor
test shares the hospitals out.

Loaded into the cluster's Airflow processes (bench/celery_cluster.py), not into pytest's or
the benchmark's: `hostname` as `[core] hostname_callable` (every cluster);
`task_instance_mutation_hook` through `$AIRFLOW_HOME/config/airflow_local_settings.py`, only
where a cluster is given it (the test; the national benchmark lets whichever worker is free
take the next hospital).
"""

from __future__ import annotations

import os
import socket
from typing import Any

# The queue each worker serves besides `default` (bench.celery_cluster.WORKERS, in order).
HOSPITAL_QUEUES = ("hospitals_a", "hospitals_b")


def is_hospital_task(task_id: str, map_index: int) -> bool:
    """A mapped instance of a region's sync_hospital (one hospital's batch)."""
    return ".sync_part_" in task_id and map_index >= 0


def hostname() -> str:
    """The name `task_instance.hostname` records: each worker's environment names it (as two
    machines would be named); any other process keeps Airflow's default, the FQDN."""
    return os.environ.get("HEALTHLINK_TEST_WORKER_HOSTNAME") or socket.getfqdn()


def task_instance_mutation_hook(task_instance: Any, dag_run: Any = None) -> None:
    """A cluster policy routing the mapped hospital tasks to the two workers' queues by
    the parity of their map index. Celery hands a task to whichever worker asks first, so
    without it both workers would very likely, not certainly, get hospitals; with it the
    test is deterministic, and it exercises queue routing as docs/deploy.md describes."""
    if is_hospital_task(task_instance.task_id, task_instance.map_index):
        task_instance.queue = HOSPITAL_QUEUES[task_instance.map_index % 2]
