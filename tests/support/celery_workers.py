"""How the CeleryExecutor test tells its two workers apart and shares the hospitals out.

Both workers run on this one machine. Loaded into the test's Airflow processes, not into
pytest's: `hostname` as `[core] hostname_callable`, `task_instance_mutation_hook` through
`$AIRFLOW_HOME/config/airflow_local_settings.py`.
"""

from __future__ import annotations

import os
import socket
from typing import Any

# The queue each worker serves besides `default` (see WORKERS in test_celery_executor.py).
HOSPITAL_QUEUES = ("hospitals_a", "hospitals_b")


def hostname() -> str:
    """The name `task_instance.hostname` records: each worker's environment names it (as two
    machines would be named); any other process keeps Airflow's default, the FQDN."""
    return os.environ.get("HEALTHLINK_TEST_WORKER_HOSTNAME") or socket.getfqdn()


def task_instance_mutation_hook(task_instance: Any, dag_run: Any = None) -> None:
    """A cluster policy routing the mapped hospital tasks to the two workers' queues by
    the parity of their map index. Celery hands a task to whichever worker asks first, so
    without it both workers would very likely, not certainly, get hospitals; with it the
    test is deterministic, and it exercises queue routing as docs/deploy.md describes."""
    if ".sync_part_" in task_instance.task_id and task_instance.map_index >= 0:
        task_instance.queue = HOSPITAL_QUEUES[task_instance.map_index % 2]
