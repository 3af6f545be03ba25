"""A real Airflow cluster with the CeleryExecutor on this machine, as docs/deploy.md describes.

Used by the CeleryExecutor test (tests/dags/test_celery_executor.py) and the national
benchmark (bench/national.py). Airflow's metadata and Celery's results in a PostgreSQL
database, Redis as the broker (a database number claimed for the cluster), and five
processes: the API server (the workers report to its execution API), the DAG processor, the
scheduler and the Celery workers, each with its own host name. Runs are triggered for a
logical date, like scheduled ones, and their outcome is read from the metadata database.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import IO, Any

import psycopg

from bench.celery_workers import is_hospital_task
from tests.support.airflow_harness import BIN, REPO

DAG_ID = "healthlink_daily_sync"
REDIS_HOST = os.environ.get("HEALTHLINK_REDIS_HOST", "127.0.0.1")
REDIS_PORT = int(os.environ.get("HEALTHLINK_REDIS_PORT", "6379"))
WORKERS = ("healthlink-worker-a", "healthlink-worker-b")
PRELOAD_SETTINGS = (
    "from warehouse.pipeline.worker_preload import preload_on_worker_start\n\n"
    "preload_on_worker_start()\n"
)
__all__ = ["CeleryCluster", "ServiceMissing", "claimed_redis_database", "is_hospital_task"]


class ServiceMissing(RuntimeError):
    """A service the cluster needs does not answer: an error, never a reason to skip."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def claimed_redis_database(claim_key: str, hours: float = 6) -> Iterator[str]:
    """The broker URL of a Redis database number no one else uses (claimed with SET NX under
    `claim_key`, checked empty), emptied afterwards. Database 0 is left to whatever else uses
    this Redis."""
    import redis

    token = secrets.token_hex(8)
    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=3).ping()
    except redis.exceptions.RedisError:
        raise ServiceMissing(
            f"no Redis answers at {REDIS_HOST}:{REDIS_PORT} (the CeleryExecutor's broker): "
            "start it (scripts/ensure_services.sh)"
        ) from None
    claimed = None
    for number in range(15, 0, -1):
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number)
        if client.set(claim_key, token, nx=True, ex=int(hours * 3600)):
            if client.dbsize() == 1:
                claimed = client
                break
            client.delete(claim_key)
    if claimed is None:
        raise ServiceMissing(f"no empty Redis database at {REDIS_HOST}:{REDIS_PORT} to claim")
    try:
        yield f"redis://{REDIS_HOST}:{REDIS_PORT}/{claimed.connection_pool.connection_kwargs['db']}"
    finally:
        if claimed.get(claim_key) == token.encode():
            claimed.flushdb()


class CeleryCluster:
    """Airflow with the CeleryExecutor: `base_env` is the deployment's environment (Airflow
    home, DAG folder, HEALTHLINK_*); the cluster adds the executor's settings to it."""

    def __init__(
        self,
        base_env: dict[str, str],
        airflow_url: str,
        broker: str,
        logs: Path,
        *,
        workers: Sequence[str] = WORKERS,
        worker_queues: Sequence[str] | None = None,
        concurrency: int = 2,
        local_settings: str = "",
        preload: bool = True,
    ) -> None:
        self.airflow_url = airflow_url
        self.api_port = _free_port()
        self.logs = logs
        self.logs.mkdir(parents=True, exist_ok=True)
        self.workers = tuple(workers)
        self.worker_queues = tuple(worker_queues or ())
        self.concurrency = concurrency
        # As docs/deploy.md configures a worker: the DAG's and the tasks' modules loaded before
        # the worker forks its task processes (off only to measure what it saves).
        self.local_settings = (PRELOAD_SETTINGS if preload else "") + local_settings
        self.processes: list[tuple[str, subprocess.Popen[bytes], IO[bytes]]] = []
        # Shared by every component: the scheduler signs each task's token with it and the
        # API server checks it. Generated per cluster, kept out of every log.
        self.jwt_secret = secrets.token_urlsafe(48)
        sqlalchemy_url = airflow_url.replace("postgresql://", "postgresql+psycopg2://", 1)
        self.env = {
            **base_env,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sqlalchemy_url,
            # Airflow derives postgresql+asyncpg from the URL above; psycopg 3 (installed
            # for the warehouse) serves the async engine instead.
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": airflow_url.replace(
                "postgresql://", "postgresql+psycopg://", 1
            ),
            "AIRFLOW__CELERY__BROKER_URL": broker,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + airflow_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": (
                f"http://127.0.0.1:{self.api_port}/execution/"
            ),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.api_port}",
            "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            # Runs come from `trigger`, not from the cron schedule.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "bench.celery_workers.hostname",
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(REPO), base_env.get("PYTHONPATH", "")) if p
            ),
        }

    # --- processes ---------------------------------------------------------------------

    def migrate(self) -> None:
        """Airflow's metadata schema, and the local settings (preload, cluster policy)."""
        if self.local_settings:
            config = Path(self.env["AIRFLOW_HOME"]) / "config"  # on Airflow's sys.path
            config.mkdir(parents=True, exist_ok=True)
            (config / "airflow_local_settings.py").write_text(self.local_settings)
        self.airflow("db", "migrate")

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> None:
        log = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [str(BIN / "airflow"), *args],
            env={**self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped whole, children included
        )
        self.processes.append((name, process, log))

    def start_all(self) -> None:
        self.start(
            "api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.api_port),
            "--workers", "1",
        )  # fmt: skip
        self.start("dag-processor", "dag-processor")
        self.start("scheduler", "scheduler")
        for index, worker in enumerate(self.workers):
            queues = ["default"] + ([self.worker_queues[index]] if self.worker_queues else [])
            self.start(
                worker,
                "celery",
                "worker",
                "--celery-hostname",
                f"{worker}@%h",
                "--queues",
                ",".join(queues),
                "--concurrency",
                str(self.concurrency),
                "--skip-serve-logs",  # one log server port per machine; not needed here
                env={"HEALTHLINK_TEST_WORKER_HOSTNAME": worker},
            )

    def wait_until_ready(self) -> None:
        self.wait_for("the API server", self.api_healthy, 180)
        self.wait_for("the DAG to be parsed", self.dag_serialized, 300)
        self.wait_for("the Celery workers", self.workers_ready, 180)

    def stop_all(self) -> None:
        for _, process, _ in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for _, process, log in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):  # the group's stragglers too
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            log.close()

    def check_alive(self) -> None:
        for name, process, _ in self.processes:
            if process.poll() is not None:
                raise AssertionError(
                    f"{name} exited with {process.returncode}:\n{self.log_tail(name)}"
                )

    def log_tail(self, name: str, chars: int = 3000) -> str:
        path = self.logs / f"{name}.log"
        text = path.read_text(errors="replace")[-chars:] if path.exists() else ""
        return text.replace(self.jwt_secret, "***")

    def diagnostics(self) -> str:
        return "\n".join(f"--- {name} ---\n{self.log_tail(name)}" for name, _, _ in self.processes)

    def wait_for(self, what: str, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if ready():
                return
            time.sleep(2)
        raise AssertionError(
            f"timed out after {timeout:.0f} s waiting for {what}\n{self.diagnostics()}"
        )

    # --- Airflow's metadata -------------------------------------------------------------

    def metadata(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.airflow_url) as conn:
            return conn.execute(sql, params).fetchall()

    def api_healthy(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.api_port}/api/v2/monitor/health"
            with urllib.request.urlopen(url, timeout=5) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def dag_serialized(self) -> bool:
        return bool(self.metadata("SELECT 1 FROM serialized_dag WHERE dag_id = %s", (DAG_ID,)))

    def workers_ready(self) -> bool:
        return all("ready." in self.log_tail(worker, 200_000) for worker in self.workers)

    def airflow(self, *args: str) -> str:
        result = subprocess.run(
            [str(BIN / "airflow"), *args], env=self.env, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-2000:])
        return result.stdout

    def trigger(self, day: date, prefix: str = "celery") -> str:
        """A run for `day` as the scheduler would make it at 02:00 Bangkok time."""
        run_id = f"{prefix}__{day.isoformat()}__{secrets.token_hex(3)}"
        self.airflow(
            "dags", "trigger", DAG_ID, "--run-id", run_id,
            "--logical-date", f"{day.isoformat()}T02:00:00+07:00",
            "--conf", json.dumps({"extract_date": day.isoformat()}),
        )  # fmt: skip
        return run_id

    def run_state(self, run_id: str) -> str | None:
        rows = self.metadata(
            "SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", (DAG_ID, run_id)
        )
        return rows[0][0] if rows else None

    def wait_for_run(self, run_id: str, timeout: float) -> str:
        self.wait_for(
            f"DAG run {run_id}",
            lambda: self.run_state(run_id) in ("success", "failed"),
            timeout,
        )
        return str(self.run_state(run_id))

    def task_instances(self, run_id: str) -> list[tuple[Any, ...]]:
        """(task_id, map_index, rendered_map_index, state, hostname, queue) of every one."""
        return self.metadata(
            "SELECT task_id, map_index, rendered_map_index, state, hostname, queue "
            "FROM task_instance "
            "WHERE dag_id = %s AND run_id = %s ORDER BY task_id, map_index",
            (DAG_ID, run_id),
        )
