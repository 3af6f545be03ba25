"""Day-cost benchmark: a day's sync + dbt build on a warehouse holding a month of history,
against the same day on an empty warehouse (issue 11: at most 1.2x, on both warehouses).

    .venv/bin/python -m bench.daycost [--hospitals 100] [--history-days 30]
        [--patients 300000] [--backend both|duckdb|postgres] [--repeats 3]
        [--history-dbt daily|once]

1. A synthetic dataset of --history-days + 1 extract days (the generator's default consent
   mix, `history_years=0`: the first day is each hospital's first full extract, every later
   day that day's visits), generated in a child process and reused from --data-dir.
2. Per warehouse, one working state always at the same place (a DuckDB home, or a PostgreSQL
   database plus the home holding its landing zone), so dbt's partial parse stays valid:
   - empty: migrated, hospitals mirrored, consent registrations imported (as the owner), and
     one dbt build on nothing, so seeds and incremental tables exist and the measured day
     takes the same incremental path on both sides; saved.
   - history: from the empty state, days 1..N each through `sync_batch` per hospital (as
     healthlink_loader on PostgreSQL) and `dbt build` + publish (as healthlink_transformer;
     with --history-dbt once, one build after the last day); saved.
3. The measured day (N + 1): every hospital's `sync_batch`, then one `dbt build` (tests
   included) and publish, on a copy of each saved state (DuckDB: the home copied; PostgreSQL:
   `CREATE DATABASE ... TEMPLATE`). Each day runs in a fresh interpreter (imports outside
   the timing, dbt's target/ per warehouse). --repeats rounds, alternating which side runs
   first; the ratio is median(history seconds) / median(empty seconds).
4. bench/results/daycost-<UTC>.json, with per-stage seconds (sync, dbt, publish) of every
   run and the load average before each run (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.ingest import ERROR_RATE, ROOT, _loadavg, _machine, dbt_build

# The measured day must not be after today: the consent mirror and the DAG work on days
# that have happened (prepare_run refuses a later one).
START = date(2026, 11, 1)
TARGET_RATIO = 1.2
SIDES = ("history", "empty")
COUNTS = ("rows_read", "rows_loaded", "rows_rejected", "rows_filtered", "rows_quarantined")
KEY = "bench-key"


def _spawn(function: Any, *args: Any, **kwargs: Any) -> Any:
    """`function` in a fresh interpreter: each day pays the same cold start on both sides,
    and dbt-duckdb's open file handle dies with the process."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args, kwargs)


# ---------------------------------------------------------------- 1. the dataset


def prepare_dataset(
    data_dir: Path, hospitals: int, days: int, patients: int, visits: float, seed: int
) -> dict[str, Any]:
    """The dataset for these parameters, generated once and reused afterwards."""
    from synthetic import generate_dataset

    parameters = {
        "hospitals": hospitals,
        "patients": patients,
        "days": days,
        "start_date": START.isoformat(),
        "seed": seed,
        "error_rate": ERROR_RATE,
        "visits_per_patient": visits,
        "history_years": 0,
    }
    folder = data_dir / f"daycost-h{hospitals}-d{days}-p{patients}-v{visits}-seed{seed}"
    manifest_path = folder / "manifest.json"
    if not (manifest_path.is_file() and _manifest(manifest_path)["parameters"] == parameters):
        shutil.rmtree(folder, ignore_errors=True)
        _spawn(
            generate_dataset,
            folder,
            **{**parameters, "start_date": START},
        )
    manifest = _manifest(manifest_path)
    per_day: dict[str, int] = {}
    for by_day in manifest["files"].values():
        for day, files in by_day.items():
            per_day[day] = per_day.get(day, 0) + sum(files.values())
    return {
        "folder": folder,
        "parameters": parameters,
        "data_rows": manifest["totals"]["data_rows"],
        "data_rows_per_day": dict(sorted(per_day.items())),
        "consent": manifest["consent"],
    }


def _manifest(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


# ---------------------------------------------------------------- 2. the days (child side)


def _settings(home: str, registry_dir: str, warehouse: str) -> Any:
    from warehouse.settings import Settings

    return Settings(
        home=Path(home),
        registry_dir=Path(registry_dir),
        warehouse=warehouse,
        pseudonym_key=KEY,  # type: ignore[arg-type]
        environment="test",
    )


def _as_loader(settings: Any) -> Any:
    """The daily sync's settings: on PostgreSQL the loader (dbt then runs as the transformer,
    warehouse.settings.dbt_environment_for)."""
    from warehouse.settings import LOADER_ROLE, url_for_role

    if not settings.uses_postgres:
        return settings
    return settings.model_copy(update={"warehouse": url_for_role(settings.warehouse, LOADER_ROLE)})


def _dbt_paths(target_dir: str) -> None:
    # One target/ per warehouse: the project's own is shared by every dbt on the machine, and
    # partial parsing needs the same profile from build to build.
    os.environ["DBT_TARGET_PATH"] = str(Path(target_dir) / "target")
    os.environ["DBT_LOG_PATH"] = str(Path(target_dir) / "logs")


def set_up_empty(home: str, registry_dir: str, warehouse: str, target_dir: str) -> dict[str, Any]:
    """Migrated, hospitals mirrored, consent imported, and dbt built once on no data."""
    from warehouse.consent import sender_choice
    from warehouse.hospital_registry import load_registry
    from warehouse.pipeline.transform import publish
    from warehouse.storage.connection import connect
    from warehouse.storage.schema import setup_warehouse

    _dbt_paths(target_dir)
    owner = _settings(home, registry_dir, warehouse)
    registry = load_registry(owner.registry_dir)
    setup_warehouse(owner)
    with connect(owner) as conn:
        sender_choice.sync_hospitals(conn, registry)
        imported = sender_choice.import_registrations(
            conn, Path(registry_dir).parent / "consent" / "registrations.csv", KEY.encode()
        )
    loader = _as_loader(owner)
    dbt = dbt_build(loader)
    if dbt["error"]:
        raise RuntimeError(f"dbt build on the empty warehouse: {dbt['error']}")
    publish(loader)
    return {"consent_registrations_imported": imported.imported, "dbt_seconds": dbt["seconds"]}


def run_days(
    home: str, registry_dir: str, warehouse: str, target_dir: str, days: list[date], dbt_daily: bool
) -> list[dict[str, Any]]:
    """Each day: `sync_batch` per hospital, then (daily, or after the last day) dbt build with
    its tests and publish, as the DAG's tasks run them. Seconds and row counts per day."""
    from warehouse.hospital_registry import load_registry
    from warehouse.pipeline.batch import sync_batch
    from warehouse.pipeline.transform import publish

    _dbt_paths(target_dir)
    settings = _as_loader(_settings(home, registry_dir, warehouse))
    hospitals = list(load_registry(settings.registry_dir).hospitals.values())
    results = []
    for index, day in enumerate(days):
        record: dict[str, Any] = {"day": day.isoformat(), "load_average": _loadavg()}
        totals = dict.fromkeys(COUNTS, 0)
        statuses: dict[str, int] = {}
        clock = time.perf_counter()
        for hospital in hospitals:
            summary = sync_batch(hospital, day, run_id=f"daycost-{day}", settings=settings)
            statuses[summary.status] = statuses.get(summary.status, 0) + 1
            for name in COUNTS:
                totals[name] += getattr(summary, name)
        record["sync_seconds"] = round(time.perf_counter() - clock, 3)
        record.update(totals, statuses=statuses)
        if dbt_daily or index == len(days) - 1:
            dbt = dbt_build(settings)
            if dbt["error"]:
                raise RuntimeError(f"dbt build after {day}: {dbt['error']}")
            clock = time.perf_counter()
            publish(settings)
            record["dbt_seconds"] = dbt["seconds"]
            record["publish_seconds"] = round(time.perf_counter() - clock, 3)
            record["dbt_slowest_nodes"] = _slowest_nodes()
        results.append(record)
        print(
            f"    {day}: sync {record['sync_seconds']:.1f} s, {totals['rows_loaded']:,} rows "
            f"loaded; dbt {record.get('dbt_seconds', 0):.1f} s",
            file=sys.stderr,
            flush=True,
        )
    return results


def _slowest_nodes(count: int = 15) -> dict[str, float]:
    """The build's slowest models and tests (dbt's run_results.json): where a day's dbt time
    goes, and what of it grows with the history."""
    path = Path(os.environ["DBT_TARGET_PATH"]) / "run_results.json"
    results = json.loads(path.read_text(encoding="utf-8"))["results"]
    ranked = sorted(results, key=lambda node: -node["execution_time"])[:count]
    return {node["unique_id"]: round(node["execution_time"], 2) for node in ranked}


# ---------------------------------------------------------------- 3. saved states (parent side)


@dataclass
class WarehouseStates:
    """One working warehouse at a fixed place and named copies of it. DuckDB: the home
    directory. PostgreSQL: a database (copied by CREATE DATABASE ... TEMPLATE) plus the home,
    which holds the landing zone."""

    backend: str
    work: Path
    server: str  # PostgreSQL maintenance URL ('' for DuckDB)
    stamp: str

    def home(self, name: str) -> Path:
        return self.work / f"{self.backend}-{name}"

    def database(self, name: str) -> str:
        return f"healthlink_daycost_{self.stamp.lower()}_{name}"

    def url(self, name: str) -> str:
        if self.backend == "duckdb":
            return ""
        return self.server.rsplit("/", 1)[0] + "/" + self.database(name)

    def copy(self, source: str, target: str) -> None:
        self.drop(target)
        shutil.copytree(self.home(source), self.home(target))
        if self.backend == "postgres":
            self._sql(f"CREATE DATABASE {self.database(target)} TEMPLATE {self.database(source)}")

    def create(self, name: str) -> None:
        self.drop(name)
        self.home(name).mkdir(parents=True)
        if self.backend == "postgres":
            self._sql(f"CREATE DATABASE {self.database(name)}")

    def drop(self, name: str) -> None:
        shutil.rmtree(self.home(name), ignore_errors=True)
        if self.backend == "postgres":
            self._sql(f"DROP DATABASE IF EXISTS {self.database(name)} WITH (FORCE)")

    def _sql(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.server, autocommit=True, connect_timeout=5) as admin:
            admin.execute(statement)


@contextmanager
def warehouse_states(
    backend: str, work: Path, server: str, stamp: str
) -> Iterator[WarehouseStates]:
    states = WarehouseStates(backend, work, server, stamp)
    try:
        yield states
    finally:
        for name in ("work", "empty", "history"):
            states.drop(name)


# ---------------------------------------------------------------- 4. one warehouse


def _summary(runs: list[dict[str, Any]], side: str) -> dict[str, float]:
    mine = [run for run in runs if run["side"] == side]
    return {
        stage: round(statistics.median(run[stage] for run in mine), 3)
        for stage in ("total_seconds", "sync_seconds", "dbt_seconds", "publish_seconds")
    }


def run_backend(
    backend: str, dataset: dict[str, Any], args: argparse.Namespace, work: Path, stamp: str
) -> dict[str, Any]:
    def log(message: str) -> None:
        print(f"[daycost {backend}] {message}", file=sys.stderr, flush=True)

    registry_dir = str(dataset["folder"] / "registry")
    days = [START + timedelta(days=n) for n in range(args.history_days + 1)]
    history_days, measured = days[:-1], days[-1]
    target_dir = str(work / f"dbt-{backend}")
    with warehouse_states(backend, work, args.postgres, stamp) as states:
        where = (str(states.home("work")), registry_dir, states.url("work"), target_dir)
        states.create("work")
        log("empty warehouse: migrate, consent import, dbt build on nothing")
        clock = time.perf_counter()
        setup = _spawn(set_up_empty, *where)
        setup["seconds"] = round(time.perf_counter() - clock, 3)
        states.copy("work", "empty")

        log(f"history: {len(history_days)} days x {args.hospitals} hospitals ({args.history_dbt})")
        clock = time.perf_counter()
        built = _spawn(run_days, *where, history_days, args.history_dbt == "daily")
        history = {"seconds": round(time.perf_counter() - clock, 3), "days": built}
        states.copy("work", "history")

        runs = []
        for repeat in range(args.repeats):
            order = SIDES if repeat % 2 == 0 else SIDES[::-1]
            for side in order:
                states.copy(side, "work")
                (day,) = _spawn(run_days, *where, [measured], True)
                day["total_seconds"] = round(
                    day["sync_seconds"] + day["dbt_seconds"] + day["publish_seconds"], 3
                )
                if not day["rows_loaded"]:
                    raise RuntimeError(f"{measured} loaded no row on the {side} warehouse")
                runs.append({"repeat": repeat, "side": side, "order": list(order), **day})
                log(
                    f"repeat {repeat} {side}: {day['total_seconds']:.1f} s (sync "
                    f"{day['sync_seconds']:.1f}, dbt {day['dbt_seconds']:.1f})"
                )
    medians = {side: _summary(runs, side) for side in SIDES}
    ratio = medians["history"]["total_seconds"] / medians["empty"]["total_seconds"]
    per_repeat = [
        round(
            next(r for r in runs if r["repeat"] == n and r["side"] == "history")["total_seconds"]
            / next(r for r in runs if r["repeat"] == n and r["side"] == "empty")["total_seconds"],
            3,
        )
        for n in range(args.repeats)
    ]
    log(f"ratio {ratio:.3f} (target <= {TARGET_RATIO}); per repeat {per_repeat}")
    return {
        "backend": backend,
        "setup": setup,
        "history_build": history,
        "measured_day": measured.isoformat(),
        "runs": runs,
        "median": medians,
        "ratio": round(ratio, 3),
        "ratio_per_repeat": per_repeat,
        "target": TARGET_RATIO,
        "met": ratio <= TARGET_RATIO,
    }


# ---------------------------------------------------------------- 5. the run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.daycost",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--hospitals", type=int, default=100)
    parser.add_argument("--history-days", type=int, default=30)
    # About 190 visits per hospital a day (community hospitals see 100-300) over 31 days.
    parser.add_argument("--patients", type=int, default=300_000)
    parser.add_argument("--visits-per-patient", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backend", choices=("both", "duckdb", "postgres"), default="both")
    parser.add_argument(
        "--history-dbt",
        choices=("daily", "once"),
        default="daily",
        help="build the history with a dbt build after every day (as the DAG does) or one "
        "after the last day (same warehouse state, faster)",
    )
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server (maintenance database URL); throwaway databases are created "
        "and dropped there",
    )
    parser.add_argument("--label", default="", help="a note kept in the results (e.g. the commit)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "data")
    args = parser.parse_args(argv)
    if args.history_days < 1 or args.repeats < 1:
        parser.error("--history-days and --repeats must be at least 1")

    started = datetime.now(UTC)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    load_before = _loadavg()
    wall = time.perf_counter()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    dataset = prepare_dataset(
        args.data_dir,
        args.hospitals,
        args.history_days + 1,
        args.patients,
        args.visits_per_patient,
        args.seed,
    )
    measured = (START + timedelta(days=args.history_days)).isoformat()
    if not dataset["data_rows_per_day"].get(measured):
        raise RuntimeError(f"the dataset has no row for the measured day {measured}")
    # Unique even for two runs started in the same second (one per backend, say).
    work = Path(tempfile.mkdtemp(prefix=f"daycost-run-{stamp}-", dir=args.data_dir))
    backends = ("duckdb", "postgres") if args.backend == "both" else (args.backend,)
    try:
        results = {b: run_backend(b, dataset, args, work, stamp) for b in backends}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "benchmark": "daycost",
        "started_at_utc": started.isoformat(timespec="seconds"),
        "wall_seconds": round(time.perf_counter() - wall, 1),
        "command": " ".join([".venv/bin/python -m bench.daycost", *sys.argv[1:]]),
        "label": args.label,
        "parameters": {
            **{
                k: v
                for k, v in vars(args).items()
                if k not in ("out", "data_dir", "postgres", "label")
            },
            "start_date": START.isoformat(),
            "measured_day": measured,
            "consent": "the generator's default mix (adults with a Thai ID card, about 85% "
            "registered, 4% of them withdrawn, ALL or LIST senders); rows of others are "
            "filtered before validation",
        },
        "dataset": {k: v for k, v in dataset.items() if k != "folder"},
        "backends": results,
        "machine": {
            **_machine(load_before),
            "note": "a shared machine: other work ran at the same time (load averages per run)",
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"daycost-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    for backend, result in results.items():
        verdict = "met" if result["met"] else "not met"
        print(
            f"{backend}: day {measured} on {args.history_days} days of history "
            f"{result['median']['history']['total_seconds']:.1f} s, on an empty warehouse "
            f"{result['median']['empty']['total_seconds']:.1f} s: ratio {result['ratio']:.2f} "
            f"(target <= {TARGET_RATIO}, {verdict})",
            file=sys.stderr,
        )
    print(f"results: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
