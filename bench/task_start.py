"""What a task process pays before its own work, with and without the worker's preload.

    .venv/bin/python -m bench.task_start [--runs 3]

A stand-in for a Celery pool process (Airflow's task runner and supervisor imported, as in
`airflow celery worker`) forks a child as Airflow 3 does on Linux; the child does what a
hospital task does before `sync_batch`: parse the DAG file, import the task's modules, get
the Great Expectations context and every entity's suite. Timed in the child from the fork to
done, cold (nothing preloaded) and warm (warehouse.pipeline.worker_preload run in the parent
first), alternating, each in a fresh interpreter. bench/results/task-start-<UTC>.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from bench.ingest import ROOT, _loadavg
from tests.support.airflow_harness import REPO, airflow_environment

POOL_PROCESS = """
import json, os, sys, time
from pathlib import Path
import airflow.sdk.execution_time.supervisor  # what a Celery pool process has loaded
import airflow.sdk.execution_time.task_runner
import airflow.providers.celery.executors.celery_executor_utils
dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
preload_s = None
if sys.argv[1] == "warm":
    from warehouse.pipeline.worker_preload import preload
    clock = time.perf_counter()
    preload(dags)
    preload_s = time.perf_counter() - clock
read, write = os.pipe()
clock = time.perf_counter()
if os.fork() == 0:  # the task process
    import runpy
    runpy.run_path(str(dags / "healthlink_daily_sync.py"))
    parsed = time.perf_counter() - clock
    from warehouse.pipeline.daily_run import sync_hospital  # noqa: F401
    from connectors.contract import ENTITIES
    from expectations import gx_context
    from expectations.suites import suite_for
    gx_context.warm()
    for entity in ENTITIES:
        suite_for(entity)
    done = time.perf_counter() - clock
    os.write(write, json.dumps({"dag_parsed_s": parsed, "ready_s": done}).encode())
    os._exit(0)
os.close(write)
child = json.loads(os.read(read, 4096))
print(json.dumps({**child, "preload_s": preload_s}))
"""


def measure(kind: str, env: dict[str, str]) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-c", POOL_PROCESS, kind],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    work = ROOT / "bench" / "data" / f"task-start-{stamp}"
    env = airflow_environment(work / "airflow", work / "home", work / "registry")
    env["HEALTHLINK_WAREHOUSE"] = "postgresql://healthlink_loader@127.0.0.1:5432/unused"
    load_before = _loadavg()
    runs: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
    for index in range(args.runs):
        for kind in ("cold", "warm") if index % 2 == 0 else ("warm", "cold"):
            runs[kind].append(measure(kind, env))
            print(kind, runs[kind][-1], file=sys.stderr, flush=True)

    def median(kind: str, key: str) -> float:
        return round(statistics.median(run[key] for run in runs[kind]), 2)

    report = {
        "benchmark": "task_start",
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": runs,
        "median": {
            kind: {key: median(kind, key) for key in ("dag_parsed_s", "ready_s")} for kind in runs
        },
        "preload_seconds_median": median("warm", "preload_s"),
        "load_average_before": load_before,
        "load_average_after": _loadavg(),
    }
    out = args.out or ROOT / "bench" / "results" / f"task-start-{stamp}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["median"] | {"preload_s": report["preload_seconds_median"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
