"""The national day: every participating hospital's extract through the DAG under Celery.

    .venv/bin/python -m bench.national [--hospitals 1100] [--visits-target 1000000]
        [--workers 2] [--concurrency 2] [--no-preload] [--out bench/results/national-<UTC>.json]

1. A synthetic extract day (synthetic.generate_dataset: days=1, no history, one visit per
   patient at the home hospital, error_rate 0.001, full consent), the hospitals sized by
   TIERS: a few dozen regional and university hospitals with thousands of visits a day,
   hundreds of community hospitals with 100-300. Generated in a child process, reused from
   bench/data/ when the same parameters were generated before.
2. The production shape of docs/deploy.md (bench/celery_cluster.py): Airflow's metadata in a
   throwaway PostgreSQL database, the warehouse in another, Redis as the broker, the API
   server, DAG processor, scheduler and `--workers` Celery workers; the tasks connect as
   healthlink_loader and dbt as healthlink_transformer. Consent registrations imported first
   (the citizen app's feed, not part of the day: timed on its own).
3. One run triggered for the day; its wall time (the DAG run's start to end: prepare with the
   consent effects, every hospital's batch, dbt with its tests, publish, judge), per stage and
   per task, from Airflow's metadata database; the batches' own times and counts from XCom
   and ops.batch; the memory of the cluster's processes sampled every few seconds.
4. The raw limit on the same files after the cluster has stopped: plain pyarrow parse
   (bench.ingest.read_raw) and ADBC ingest into new index-free tables of a third throwaway
   database. Ratio = raw seconds / DAG run seconds.
5. bench/results/national-<UTC>.json. Goals (reported against, not gating): the day under
   1 hour, the ratio at least 30%.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.celery_cluster import CeleryCluster, claimed_redis_database, is_hospital_task
from bench.ingest import EXTRACT_DATE, ROOT, _loadavg, _machine, _maxrss_mb, read_raw
from tests.support.airflow_harness import BIN, airflow_environment, ensure_manifest
from tests.support.machine import throwaway_pg_database

ERROR_RATE = 0.001
SEED = 42
PSEUDONYM_KEY = "bench-national-key"
CLAIM_KEY = "healthlink:national-bench:claim"
GOAL_WALL_S = 3600
GOAL_SHARE = 0.30
# (tier, share of the hospitals, visits a day low-high at national scale). At 1,100 hospitals
# they add up to about 0.9 million visits; every size is then scaled to --visits-target.
TIERS = (
    ("regional_university", 0.035, 2000, 8000),
    ("general", 0.07, 1000, 3000),
    ("community_large", 0.25, 700, 2300),
    ("community", 0.645, 100, 300),
)
STAGE_OF_TASK = {  # the tasks outside the regions and the dbt group, by stage
    "resolve_extract_date": "prepare",
    "prepare": "prepare",
    "hospitals_done": "hospitals",
    "publish_and_summarize": "publish",
    "judge_run": "judge",
}


# ---------------------------------------------------------------- 1. the day's extracts


def hospital_sizes(hospitals: int, seed: int) -> tuple[list[float], list[str]]:
    """Each hospital's expected visits (unscaled) and its tier, shuffled across hospitals."""
    import numpy as np

    rng = np.random.default_rng([seed, 11])
    counts = [max(1, round(share * hospitals)) for _, share, _, _ in TIERS[:-1]]
    counts.append(max(0, hospitals - sum(counts)))
    sizes: list[float] = []
    tiers: list[str] = []
    for (name, _, low, high), count in zip(TIERS, counts, strict=True):
        sizes.extend(rng.uniform(low, high, count).tolist())
        tiers.extend([name] * count)
    order = rng.permutation(len(sizes))[:hospitals]
    return [sizes[i] for i in order], [tiers[i] for i in order]


def _generate(out_dir: str, hospitals: int, visits: int, seed: int) -> dict[str, Any]:
    from synthetic import generate_dataset

    sizes, _ = hospital_sizes(hospitals, seed)
    return generate_dataset(
        Path(out_dir),
        hospitals=hospitals,
        patients=visits,  # one visit per patient, on the day, at the home hospital
        days=1,
        start_date=EXTRACT_DATE,
        seed=seed,
        error_rate=ERROR_RATE,
        visits_per_patient=1.0,
        history_years=0,
        hospital_sizes=sizes,
        full_consent=True,
    )


def prepare_dataset(data_dir: Path, hospitals: int, visits: int, seed: int) -> dict[str, Any]:
    folder = data_dir / f"national-h{hospitals}-v{visits}-seed{seed}"
    stamp = folder / "bench-dataset.json"
    wanted = {"hospitals": hospitals, "visits": visits, "seed": seed, "error_rate": ERROR_RATE}
    if stamp.is_file():
        info = json.loads(stamp.read_text())
        if info["parameters"] == wanted:
            return {**info, "reused": True, "generate_seconds": None}
    if folder.exists():
        shutil.rmtree(folder)
    clock = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        manifest = pool.apply(_generate, (str(folder), hospitals, visits, seed))
    _, tiers = hospital_sizes(hospitals, seed)
    visits_by_code = {
        code: per_day[EXTRACT_DATE.isoformat()].get("SERVICE", 0)
        for code, per_day in manifest["files"].items()
    }
    codes = [h["hospital_code"] for h in manifest["hospitals"]]
    info = {
        "parameters": wanted,
        "folder": str(folder),
        "visits": manifest["totals"]["visits"],
        "data_rows": manifest["totals"]["data_rows"],
        "rows_per_file": manifest["totals"]["rows_per_file"],
        "extract_bytes": sum(p.stat().st_size for p in (folder / "extracts").rglob("*.txt")),
        "consent_registrations": manifest["consent"]["registrations"],
        "tiers": _tier_summary(codes, tiers, visits_by_code),
        "generate_seconds": round(time.perf_counter() - clock, 1),
    }
    stamp.write_text(json.dumps(info, indent=2) + "\n")
    return {**info, "reused": False}


def _tier_summary(
    codes: list[str], tiers: list[str], visits_by_code: dict[str, int]
) -> dict[str, dict[str, int]]:
    summary: dict[str, dict[str, int]] = {}
    for code, tier in zip(codes, tiers, strict=True):
        visits = visits_by_code[code]
        entry = summary.setdefault(tier, {"hospitals": 0, "visits": 0, "min": visits, "max": 0})
        entry["hospitals"] += 1
        entry["visits"] += visits
        entry["min"] = min(entry["min"], visits)
        entry["max"] = max(entry["max"], visits)
    return summary


# ---------------------------------------------------------------- 2-3. the day under Celery


class MemorySampler(threading.Thread):
    """The peak of the summed memory of the cluster's processes (each process group whole:
    workers with their task processes). PSS counts a page shared by forked processes once
    across them; RSS counts it in each."""

    def __init__(self, cluster: CeleryCluster, every_s: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.cluster = cluster
        self.every_s = every_s
        self.peak_pss_mb = 0.0
        self.peak_rss_mb = 0.0
        self.samples = 0
        self.loads: list[float] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        import psutil

        while not self.stopped.wait(self.every_s):
            pss = rss = 0
            for _, process, _ in self.cluster.processes:
                try:
                    root = psutil.Process(process.pid)
                    for member in [root, *root.children(recursive=True)]:
                        info = member.memory_full_info()
                        pss += info.pss
                        rss += info.rss
                except psutil.Error:
                    continue  # a task process ended while it was being read
            self.peak_pss_mb = max(self.peak_pss_mb, pss / 2**20)
            self.peak_rss_mb = max(self.peak_rss_mb, rss / 2**20)
            self.loads.append(os.getloadavg()[0])
            self.samples += 1


def _healthlink(env: dict[str, str], *args: str) -> float:
    clock = time.perf_counter()
    subprocess.run([str(BIN / "healthlink"), *args], env=env, check=True, capture_output=True)
    return round(time.perf_counter() - clock, 2)


def run_day(
    args: argparse.Namespace, dataset: Path, work: Path, warehouse_url: str, airflow_url: str
) -> dict[str, Any]:
    from warehouse.settings import LOADER_ROLE, url_for_role

    env = airflow_environment(work / "airflow", work / "home", dataset / "registry")
    env["HEALTHLINK_PSEUDONYM_KEY"] = PSEUDONYM_KEY
    env["HEALTHLINK_WAREHOUSE"] = warehouse_url
    setup = {"migrate_seconds": _healthlink(env, "migrate")}
    setup["consent_import_seconds"] = _healthlink(
        env, "consent", "import", str(dataset / "consent" / "registrations.csv")
    )
    # From here on as in production: the tasks as the loader, dbt as the transformer.
    env["HEALTHLINK_WAREHOUSE"] = url_for_role(warehouse_url, LOADER_ROLE)
    workers = [f"healthlink-worker-{chr(ord('a') + i)}" for i in range(args.workers)]
    with claimed_redis_database(CLAIM_KEY) as broker:
        cluster = CeleryCluster(
            env,
            airflow_url,
            broker,
            work / "logs",
            workers=workers,
            concurrency=args.concurrency,
            preload=not args.no_preload,
        )
        clock = time.perf_counter()
        cluster.migrate()
        sampler = MemorySampler(cluster)
        try:
            cluster.start_all()
            cluster.wait_until_ready()
            setup["cluster_start_seconds"] = round(time.perf_counter() - clock, 1)
            sampler.start()
            run_id = cluster.trigger(EXTRACT_DATE, prefix="national")
            try:
                state = cluster.wait_for_run(run_id, args.timeout)
            except (AssertionError, KeyboardInterrupt) as stop:
                # Timed out or stopped by hand (SIGINT): report how far the day got.
                state = f"unfinished ({type(stop).__name__}): {cluster.run_state(run_id)}"
        finally:
            sampler.stopped.set()
            cluster.stop_all()
        day = read_run(cluster.metadata, run_id)
    day.update(
        state=state,
        setup=setup,
        workers=workers,
        concurrency_per_worker=args.concurrency,
        preload=not args.no_preload,
        peak_memory_mb={
            "cluster_pss": round(sampler.peak_pss_mb),
            "cluster_rss": round(sampler.peak_rss_mb),
            "samples": sampler.samples,
        },
        load_average_during={
            "mean": round(statistics.mean(sampler.loads), 2) if sampler.loads else None,
            "max": round(max(sampler.loads), 2) if sampler.loads else None,
        },
    )
    day["warehouse"] = read_warehouse(warehouse_url, airflow_url, work)
    return day


# ---------------------------------------------------------------- what the run recorded


Metadata = Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]]


def read_run(metadata: Metadata, run_id: str) -> dict[str, Any]:
    ((run_start, run_end, queued),) = metadata(
        "SELECT start_date, end_date, queued_at FROM dag_run WHERE run_id = %s", (run_id,)
    )
    rows = metadata(
        "SELECT task_id, map_index, rendered_map_index, state, hostname, queued_dttm,"
        " start_date, end_date FROM task_instance WHERE run_id = %s",
        (run_id,),
    )
    columns = ("task_id", "map_index", "name", "state", "host", "queued", "start", "end")
    tasks = [dict(zip(columns, row, strict=True)) for row in rows]
    for task in tasks:
        ran = task["start"] is not None and task["end"] is not None
        task["seconds"] = (task["end"] - task["start"]).total_seconds() if ran else None
        task["wait"] = (task["start"] - task["queued"]).total_seconds() if ran else None
    batches = {
        name: value
        for name, value in metadata(
            "SELECT t.rendered_map_index, x.value FROM xcom x JOIN task_instance t"
            " ON t.run_id = x.run_id AND t.task_id = x.task_id AND t.map_index = x.map_index"
            " WHERE x.run_id = %s AND x.key = 'return_value' AND x.task_id LIKE %s",
            (run_id, "%sync_part_%"),
        )
    }
    wall = (run_end - run_start).total_seconds() if run_end else None
    return {
        "run_id": run_id,
        "wall_seconds": wall,
        "unfinished_after_seconds": (
            None if run_end else round((datetime.now(UTC) - run_start).total_seconds(), 1)
        ),
        "queued_to_start_seconds": (run_start - queued).total_seconds() if queued else None,
        "task_states": _count(t["state"] for t in tasks),
        "stages": stage_times(tasks, run_start),
        "task_overhead": task_overhead(tasks, batches),
        "batches": batch_totals(batches),
        "tasks_by_worker": _count(t["host"] for t in tasks if t["seconds"] is not None),
    }


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[str(value)] = counts.get(str(value), 0) + 1
    return counts


def _stage_of(task: dict[str, Any]) -> str:
    task_id = task["task_id"]
    if is_hospital_task(task_id, task["map_index"]):
        return "hospitals"
    if ".list_part_" in task_id:
        return "list_hospitals"
    if task_id.startswith("dbt."):
        return "dbt"
    return STAGE_OF_TASK.get(task_id, "other")


def stage_times(tasks: list[dict[str, Any]], run_start: datetime) -> dict[str, Any]:
    """Per stage: its span in the run (first start to last end, seconds from the run's
    start), the sum of its tasks' run times, and how many ran."""
    stages: dict[str, Any] = {}
    for task in tasks:
        if task["seconds"] is None:
            continue
        stage = stages.setdefault(
            _stage_of(task), {"first": task["start"], "last": task["end"], "sum": 0.0, "tasks": 0}
        )
        stage["first"] = min(stage["first"], task["start"])
        stage["last"] = max(stage["last"], task["end"])
        stage["sum"] += task["seconds"]
        stage["tasks"] += 1
    return {
        name: {
            "starts_at_s": round((s["first"] - run_start).total_seconds(), 1),
            "span_seconds": round((s["last"] - s["first"]).total_seconds(), 1),
            "task_seconds_sum": round(s["sum"], 1),
            "tasks": s["tasks"],
        }
        for name, s in sorted(stages.items(), key=lambda item: item[1]["first"])
    }


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def task_overhead(tasks: list[dict[str, Any]], batches: dict[str, Any]) -> dict[str, Any]:
    """Per hospital task: its run time in Airflow against the batch's own time (sync_batch's
    duration, from the task's XCom): the rest is the task process's start-up (the fork, the
    DAG file parsed, the task's imports) and Airflow's bookkeeping. Tasks that do nothing
    (hospitals_done) show the bare cost of a task under Celery."""
    hospital = [t for t in tasks if is_hospital_task(t["task_id"], t["map_index"])]
    ran = [t for t in hospital if t["seconds"] is not None and t["name"] in batches]
    outside = [t["seconds"] - _batch(batches[t["name"]])["duration_s"] for t in ran]
    empty = [t["seconds"] for t in tasks if t["task_id"] == "hospitals_done" and t["seconds"]]
    listing = [t["seconds"] for t in tasks if ".list_part_" in t["task_id"] and t["seconds"]]
    return {
        "hospital_tasks": len(ran),
        "task_seconds_median": _median([t["seconds"] for t in ran]),
        "task_seconds_sum": round(sum(t["seconds"] for t in ran), 1),
        "batch_seconds_median": _median([_batch(batches[t["name"]])["duration_s"] for t in ran]),
        "outside_batch_seconds_median": _median(outside),
        "outside_batch_seconds_mean": round(statistics.mean(outside), 2) if outside else None,
        "outside_batch_seconds_sum": round(sum(outside), 1),
        "queue_wait_seconds_median": _median([t["wait"] for t in ran]),
        "empty_task_seconds": empty,
        "list_task_seconds_median": _median(listing),
        "fit": fixed_cost_fit(ran, batches),
    }


def _batch(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value)


def fixed_cost_fit(ran: list[dict[str, Any]], batches: dict[str, Any]) -> dict[str, Any]:
    """Least squares of seconds against rows read over the hospitals: the intercept is the
    per-batch fixed cost, the slope the cost per row (for the task and for sync_batch)."""
    if len(ran) < 3:
        return {}
    rows = [float(_batch(batches[t["name"]])["rows_read"]) for t in ran]

    def fit(seconds: list[float]) -> dict[str, float]:
        slope, intercept = statistics.linear_regression(rows, seconds)
        return {"fixed_seconds": round(intercept, 3), "microseconds_per_row": round(slope * 1e6, 3)}

    return {
        "task": fit([t["seconds"] for t in ran]),
        "batch": fit([_batch(batches[t["name"]])["duration_s"] for t in ran]),
    }


def batch_totals(batches: dict[str, Any]) -> dict[str, Any]:
    totals = dict.fromkeys(
        ("rows_read", "rows_loaded", "rows_rejected", "rows_filtered", "rows_quarantined"), 0
    )
    stages: dict[str, float] = {}
    statuses: dict[str, int] = {}
    for value in batches.values():
        batch = _batch(value)
        for name in totals:
            totals[name] += int(batch[name] or 0)
        for stage, seconds in batch["stage_seconds"].items():
            stages[stage] = stages.get(stage, 0.0) + seconds
        statuses[batch["status"]] = statuses.get(batch["status"], 0) + 1
    return {
        **totals,
        "statuses": statuses,
        "stage_seconds_sum": {k: round(v, 1) for k, v in stages.items()},
        "duration_seconds_sum": round(sum(_batch(v)["duration_s"] for v in batches.values()), 1),
    }


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def read_warehouse(warehouse_url: str, airflow_url: str, work: Path) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(warehouse_url) as conn:
        published = {  # none before dbt has built them (a day stopped early)
            name: conn.execute(f"SELECT count(*) FROM published.{name}").fetchone()[0]  # type: ignore[index]
            for name in ("encounter", "diagnosis", "medication_dispense", "lab_result")
            if conn.execute("SELECT to_regclass(%s)", [f"published.{name}"]).fetchone()[0]  # type: ignore[index]
        }
        sizes = conn.execute(
            "SELECT pg_database_size(current_database()),"
            " (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
            "  JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'raw')"
        ).fetchone()
        verdict = conn.execute(
            "SELECT status, count(*) FROM ops.run_summary GROUP BY status"
        ).fetchall()
    with psycopg.connect(airflow_url) as conn:
        airflow_db = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return {
        "published_rows": published,
        "run_summary": dict(verdict),
        "disk_bytes": {
            "warehouse_database": int(sizes[0]),  # type: ignore[index]
            "raw_schema": int(sizes[1] or 0),  # type: ignore[index]
            "landing_zone_and_home": _du(work / "home"),
            "airflow_metadata_database": int(airflow_db[0]),  # type: ignore[index]
            "airflow_logs": _du(work / "airflow" / "logs") + _du(work / "logs"),
        },
    }


# ---------------------------------------------------------------- 4. the raw limit


def raw_limit_postgres(registry_dir: Path, url: str) -> dict[str, Any]:
    """Every extract file parsed by plain pyarrow and appended by ADBC to a new, index-free
    table per entity, one transaction; timed to the commit."""
    import adbc_driver_postgresql.dbapi as adbc

    from warehouse.hospital_registry import load_registry

    registry = load_registry(registry_dir)
    skipped = 0

    def skip(_row: object) -> str:
        nonlocal skipped
        skipped += 1
        return "skip"

    rows = 0
    parse_s = load_s = 0.0
    created: set[str] = set()
    clock = time.perf_counter()
    with adbc.connect(url) as conn, conn.cursor() as cursor:
        for hospital in registry.hospitals.values():
            connector: Any = hospital.connector  # a file43 connector: synthetic hospitals
            for path in sorted(connector.extract_dir(EXTRACT_DATE).glob("*.txt")):
                started = time.perf_counter()
                table = read_raw(path, connector, skip)
                parse_s += time.perf_counter() - started
                rows += table.num_rows
                entity = f"plain_{path.stem.lower()}"
                started = time.perf_counter()
                # Headers differ (headerless files take the layout's names): by name, as BY NAME
                cursor.adbc_ingest(entity, table, mode="append" if entity in created else "create")
                created.add(entity)
                load_s += time.perf_counter() - started
        started = time.perf_counter()
        conn.commit()
        load_s += time.perf_counter() - started
    return {
        "seconds": round(time.perf_counter() - clock, 1),
        "parse_seconds": round(parse_s, 1),
        "load_seconds": round(load_s, 1),
        "rows": rows,
        "rows_skipped_wrong_field_count": skipped,
        "tables": len(created),
    }


def snapshot(airflow_url: str, warehouse_url: str, out: Path) -> dict[str, Any]:
    """How far a national run has got (or got before it was stopped), read from its metadata
    and warehouse databases while they exist: the latest run's task states and times."""
    import psycopg

    def metadata(sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(airflow_url) as conn:
            return conn.execute(sql, params).fetchall()

    ((run_id,),) = metadata("SELECT run_id FROM dag_run ORDER BY id DESC LIMIT 1")
    day = read_run(metadata, run_id)
    ((state,),) = metadata("SELECT state FROM dag_run WHERE run_id = %s", (run_id,))
    day["state"] = f"snapshot while {state}"
    with psycopg.connect(warehouse_url) as conn:
        day["ops_batch"] = dict(
            conn.execute("SELECT status, count(*) FROM ops.batch GROUP BY status").fetchall()
        )
    report = {
        "benchmark": "national",
        "snapshot_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "day": day,
        "load_average": _loadavg(),
    }
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    return report


# ---------------------------------------------------------------- 5. the report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hospitals", type=int, default=1100)
    parser.add_argument("--visits-target", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2, help="task slots per worker")
    parser.add_argument("--no-preload", action="store_true", help="workers start tasks cold")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds for the run")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "data")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--snapshot-of",
        nargs=2,
        metavar=("AIRFLOW_DB_URL", "WAREHOUSE_DB_URL"),
        help="only report how far a running national day has got",
    )
    args = parser.parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or ROOT / "bench" / "results" / f"national-{stamp}.json"
    if args.snapshot_of:
        airflow_db, warehouse_db = args.snapshot_of
        report = snapshot(airflow_db, warehouse_db, out)
        print(json.dumps(report["day"]["task_states"]))
        return 0
    load_before = _loadavg()

    def log(message: str) -> None:
        print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)

    log(f"dataset: {args.hospitals} hospitals, {args.visits_target:,} visits")
    dataset = prepare_dataset(args.data_dir, args.hospitals, args.visits_target, args.seed)
    log(f"dataset ready: {dataset['data_rows']:,} data rows in {dataset['folder']}")
    ensure_manifest("postgres")
    work = args.data_dir / f"national-work-{stamp}"
    work.mkdir(parents=True)
    folder = Path(dataset["folder"])
    try:
        with (
            throwaway_pg_database("healthlink_national_wh") as warehouse_url,
            throwaway_pg_database("healthlink_national_airflow") as airflow_url,
        ):
            log("the day under Celery")
            day = run_day(args, folder, work, warehouse_url, airflow_url)
            log(f"run {day['state']} in {day['wall_seconds']} s; raw limit next")
        raw: dict[str, Any] = {"seconds": None, "skipped": "the day did not finish"}
        if day["state"] in ("success", "failed"):
            with throwaway_pg_database("healthlink_national_raw") as raw_url:
                raw = raw_limit_postgres(folder / "registry", raw_url)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = build_report(args, dataset, day, raw, load_before)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    log(f"wrote {out}")
    print(json.dumps(report["summary"], indent=2))
    return 0 if day["state"] == "success" else 1


def build_report(
    args: argparse.Namespace,
    dataset: dict[str, Any],
    day: dict[str, Any],
    raw: dict[str, Any],
    load_before: list[float],
) -> dict[str, Any]:
    wall = day["wall_seconds"]
    share = raw["seconds"] / wall if wall and raw["seconds"] else None
    batches = day["batches"]
    return {
        "benchmark": "national",
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.national " + " ".join(sys.argv[1:]),
        "parameters": vars(args) | {"data_dir": str(args.data_dir), "out": str(args.out)},
        "summary": {
            "state": day["state"],
            "hospitals": args.hospitals,
            "visits": dataset["visits"],
            "data_rows_in_files": dataset["data_rows"],
            "entity_rows_read": batches["rows_read"],
            "rows_loaded": batches["rows_loaded"],
            "wall_seconds": wall,
            "goal_wall_seconds": GOAL_WALL_S,
            "wall_goal_met": wall is not None and wall < GOAL_WALL_S,
            "raw_limit_seconds": raw["seconds"],
            "share_of_raw_limit": round(share, 4) if share else None,
            "goal_share": GOAL_SHARE,
            "share_goal_met": share is not None and share >= GOAL_SHARE,
            "per_task_outside_batch_seconds_median": day["task_overhead"][
                "outside_batch_seconds_median"
            ],
            "peak_memory_mb": day["peak_memory_mb"],
            "disk_bytes": day["warehouse"]["disk_bytes"],
        },
        "dataset": dataset,
        "day": day,
        "raw_limit": raw,
        "machine": _machine(load_before) | {"benchmark_process_peak_rss_mb": _maxrss_mb()},
    }


if __name__ == "__main__":
    raise SystemExit(main())
