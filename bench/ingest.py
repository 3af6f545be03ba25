"""Ingest benchmark: our pipeline against the raw parse + load limit, on the same files.

    .venv/bin/python -m bench.ingest [--rows-target 5000000] [--hospitals 8] [--seed 42]
                                     [--repeats 3]

1. A synthetic dataset with one extract day (days=1, error_rate 0.001), sized so that the
   manifest's data rows reach --rows-target; generated in a child process (so the peak
   memory figures of this process are the benchmark's own) and reused from --data-dir
   when the same parameters were generated before.
2. Raw limit: every extract file parsed by plain pyarrow.csv (delimiter '|', every column a
   string, header per the hospital's registry YAML, TIS-620 files decoded by pyarrow's own
   ReadOptions(encoding='tis-620'), lines with the wrong field count skipped) and loaded
   into a fresh DuckDB file, CREATE TABLE AS from the Arrow table for the first hospital,
   INSERT ... BY NAME for the others; timed up to and including the closing checkpoint.
3. Our pipeline on the same files in a fresh HEALTHLINK home: consent import, registry
   mirror, `sync_batch` per hospital one after another (stage_seconds summed), then
   `dbt build` timed on its own.
   Then the PostgreSQL load of the batches it landed: our `load_batch` against a plain ADBC
   ingest, in a throwaway database.
4. Steps 2 and 3 run in --repeats rounds on the one generated dataset, alternating which side
   goes first (round 1 the raw limit, round 2 our pipeline, ...; the PostgreSQL comparison
   likewise: round 1 plain ADBC first); each round of our pipeline in a new, empty home (its
   own warehouse, dbt build and PostgreSQL database). The figures reported are the medians
   over the rounds, each round's own kept beside them; the ratio is median(raw-limit seconds)
   / median(end-to-end seconds), and each round's ratio is reported too.
   bench/results/ingest-<UTC>.json, bench/results/latest.json and the table in BENCHMARKS.md.
5. The per-batch fixed cost (`--scenario fixed-cost` runs only this): an empty extract (every
   file of the 43-file set present, headers only, no data row) through the whole `sync_batch`
   (consent filter, validate, land, load) on DuckDB, in a fresh interpreter per run: the first
   (cold) batch, then one batch for each of three other hospitals (warm: what a long-lived
   worker pays per hospital); median of three runs, in bench/results/fixed-cost-<UTC>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import platform
import resource
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXTRACT_DATE = date(2026, 11, 23)
ERROR_RATE = 0.001
VISITS_PER_PATIENT = 6.0
# Measured on the generator's defaults (visits_per_patient 6, history 2 years): about 36 data
# rows per patient; a small margin, and a second, larger run if the first falls short.
ROWS_PER_PATIENT_ESTIMATE = 35.0
STAGES = ("parse", "consent_filter", "validate", "land", "load")
TARGET_SHARE = 0.25
NOTES_MARKER = "<!-- notes: kept by bench/ingest.py when it rewrites the part above -->"

for _name, _value in {
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "False",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "SCARF_ANALYTICS": "false",
}.items():
    os.environ.setdefault(_name, _value)


def _maxrss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)  # Linux: kilobytes


def _loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# ---------------------------------------------------------------- 1. the dataset


def _generate(out_dir: str, hospitals: int, patients: int, seed: int) -> dict[str, Any]:
    from synthetic import generate_dataset

    manifest = generate_dataset(
        Path(out_dir),
        hospitals=hospitals,
        patients=patients,
        days=1,
        start_date=EXTRACT_DATE,
        seed=seed,
        error_rate=ERROR_RATE,
        visits_per_patient=VISITS_PER_PATIENT,
    )
    return manifest


def _generate_in_child(out_dir: Path, hospitals: int, patients: int, seed: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(_generate, (str(out_dir), hospitals, patients, seed))


def prepare_dataset(data_dir: Path, rows_target: int, hospitals: int, seed: int) -> dict[str, Any]:
    """The dataset for these parameters, generated once and reused afterwards."""
    folder = data_dir / f"rows{rows_target}-h{hospitals}-seed{seed}"
    stamp = folder / "bench-dataset.json"
    wanted = {
        "rows_target": rows_target,
        "hospitals": hospitals,
        "seed": seed,
        "days": 1,
        "error_rate": ERROR_RATE,
        "visits_per_patient": VISITS_PER_PATIENT,
        "start_date": EXTRACT_DATE.isoformat(),
    }
    if stamp.is_file():
        info = json.loads(stamp.read_text())
        if info["parameters"] == wanted and (folder / "manifest.json").is_file():
            info["reused"] = True
            info["generate_seconds"] = None
            return info
    patients = math.ceil(rows_target / ROWS_PER_PATIENT_ESTIMATE)
    started = time.perf_counter()
    while True:
        if folder.exists():
            shutil.rmtree(folder)
        manifest = _generate_in_child(folder, hospitals, patients, seed)
        rows = manifest["totals"]["data_rows"]
        if rows >= rows_target:
            break
        patients = math.ceil(patients * rows_target / rows * 1.02)
    info = {
        "parameters": wanted,
        "folder": str(folder),
        "patients": patients,
        "data_rows": rows,
        "rows_per_file": manifest["totals"]["rows_per_file"],
        "extract_bytes": sum(p.stat().st_size for p in (folder / "extracts").rglob("*.txt")),
        "hospitals": manifest["hospitals"],
        "errors": manifest["errors"]["totals"],
        "consent_registrations": manifest["consent"]["registrations"],
        "generate_seconds": round(time.perf_counter() - started, 2),
        "generator_peak_rss_mb": _maxrss_mb(resource.RUSAGE_CHILDREN),
    }
    stamp.write_text(json.dumps(info, indent=2) + "\n")
    info["reused"] = False
    return info


# ---------------------------------------------------------------- 2. the raw limit


def _raw_column_names(path: Path, header: bool) -> list[str]:
    """The header line's names, or (headerless) the 43-file layout whose width matches."""
    from connectors.file43.layout import layout_for

    with path.open("rb") as handle:
        first = handle.readline().rstrip(b"\r\n")
    if header:
        return [n.decode("latin-1") for n in first.split(b"|")]
    width = first.count(b"|") + 1
    layout = layout_for(path.name)
    for spec in layout.specs:
        if len(spec) == width:
            return list(spec)
    return list(layout.fields)


def read_raw(path: Path, settings: Any, skip: Callable[[Any], str]) -> Any:
    """One extract file as plain pyarrow reads it: delimiter and encoding from the hospital's
    connector settings, no quoting, every column a string, rows of the wrong width skipped
    (`skip` counts them)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = _raw_column_names(path, settings.header)
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(
            column_names=None if settings.header else names,
            encoding=settings.encoding,
            block_size=8 << 20,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=settings.delimiter, quote_char=False, invalid_row_handler=skip
        ),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
    )


def raw_limit(registry_dir: Path, work_dir: Path) -> dict[str, Any]:
    import duckdb

    from warehouse.hospital_registry import load_registry

    registry = load_registry(registry_dir)
    db_path = work_dir / "raw-limit.duckdb"
    db_path.unlink(missing_ok=True)
    created: set[str] = set()
    rows = 0
    skipped = 0
    parse_s = 0.0
    load_s = 0.0
    nbytes = 0

    def skip(_row: object) -> str:
        nonlocal skipped
        skipped += 1
        return "skip"

    started = time.perf_counter()
    conn = duckdb.connect(str(db_path))
    for hospital in registry.hospitals.values():
        settings = hospital.connector
        folder = settings.extract_dir(EXTRACT_DATE)
        for path in sorted(folder.glob("*.txt")):
            nbytes += path.stat().st_size
            clock = time.perf_counter()
            table = read_raw(path, settings, skip)
            parse_s += time.perf_counter() - clock
            rows += table.num_rows
            entity = path.stem.lower()
            clock = time.perf_counter()
            conn.register("arrow_in", table)
            if entity in created:
                conn.execute(f"INSERT INTO {entity} BY NAME SELECT * FROM arrow_in")
            else:
                conn.execute(f"CREATE TABLE {entity} AS SELECT * FROM arrow_in")
                created.add(entity)
            conn.unregister("arrow_in")
            load_s += time.perf_counter() - clock
            del table
    clock = time.perf_counter()
    conn.close()  # the checkpoint: the data is on disk
    load_s += time.perf_counter() - clock
    total = time.perf_counter() - started
    size = db_path.stat().st_size
    db_path.unlink(missing_ok=True)
    return {
        "seconds": round(total, 3),
        "parse_seconds": round(parse_s, 3),
        "load_seconds": round(load_s, 3),
        "rows": rows,
        "rows_skipped_wrong_field_count": skipped,
        "bytes": nbytes,
        "duckdb_bytes": size,
        "tables": len(created),
    }


# ---------------------------------------------------------------- 3. our pipeline


def pipeline(dataset: Path, home: Path) -> dict[str, Any]:
    from warehouse.consent import sender_choice
    from warehouse.hospital_registry import load_registry
    from warehouse.pipeline.batch import sync_batch
    from warehouse.settings import Settings
    from warehouse.storage.connection import connect
    from warehouse.storage.schema import setup_schema

    if home.exists():
        shutil.rmtree(home)
    settings = Settings(
        home=home,
        registry_dir=dataset / "registry",
        pseudonym_key="bench-key",  # type: ignore[arg-type]
        environment="test",
    )
    key = settings.pseudonym_key.get_secret_value().encode("utf-8")
    registry = load_registry(settings.registry_dir)

    clock = time.perf_counter()
    with connect(settings) as conn:
        setup_schema(conn)
        sender_choice.sync_hospitals(conn, registry)
        imported = sender_choice.import_registrations(
            conn, dataset / "consent" / "registrations.csv", key, registry
        )
    setup_s = time.perf_counter() - clock

    stages = dict.fromkeys(STAGES, 0.0)
    totals = dict.fromkeys(
        ("rows_read", "rows_loaded", "rows_rejected", "rows_filtered", "rows_quarantined"), 0
    )
    batches = []
    wall = 0.0
    for hospital in registry.hospitals.values():
        clock = time.perf_counter()
        summary = sync_batch(hospital, EXTRACT_DATE, run_id="bench", settings=settings)
        seconds = time.perf_counter() - clock
        wall += seconds
        for stage, value in summary.stage_seconds.items():
            stages[stage] = stages.get(stage, 0.0) + value
        for name in totals:
            totals[name] += getattr(summary, name)
        batches.append(
            {
                "hospital_code": hospital.hospital_code,
                "encoding": hospital.connector.encoding,
                "date_era": hospital.connector.date_era,
                "header": hospital.connector.header,
                "status": summary.status,
                "reason_code": summary.reason_code,
                "seconds": round(seconds, 3),
                "rows_read": summary.rows_read,
                "rows_loaded": summary.rows_loaded,
                "rows_rejected": summary.rows_rejected,
                "rows_filtered": summary.rows_filtered,
                "stage_seconds": {k: round(v, 3) for k, v in summary.stage_seconds.items()},
                "landing_path": summary.landing_path,
                "peak_rss_mb_after": _maxrss_mb(),
            }
        )
        print(
            f"  {hospital.hospital_code} {summary.status} {summary.rows_read:,} rows read "
            f"in {seconds:.1f} s",
            file=sys.stderr,
            flush=True,
        )
    return {
        "settings": settings,
        "consent_registrations_imported": imported.imported,
        "setup_seconds": round(setup_s, 3),
        "sync_wall_seconds": round(wall, 3),
        "stage_seconds": {k: round(v, 3) for k, v in stages.items()},
        "stage_sum_seconds": round(sum(stages.values()), 3),
        **totals,
        "batches": batches,
    }


def _landed(batches: list[dict[str, Any]]) -> list[tuple[str, dict[str, Path]]]:
    """(hospital, entity → Parquet) of every loaded batch, as the pipeline landed them."""
    landed = []
    for batch in batches:
        if batch["status"] == "loaded" and batch["landing_path"]:
            files = {
                f.name.split("-")[0]: f
                for f in sorted(Path(batch["landing_path"]).glob("*.parquet"))
            }
            landed.append((batch["hospital_code"], files))
    return landed


def postgres_load(
    admin_url: str, batches: list[dict[str, Any]], stamp: str, plain_first: bool = True
) -> dict[str, Any]:
    """Our PostgreSQL load (`load_batch`: COPY into a TEMP staging table, first-seen times,
    delete + insert, one transaction per batch) against a plain ADBC `adbc_ingest` of the same
    Arrow tables into empty tables, in a throwaway database of the given server; `plain_first`
    says which side runs first (our re-sent day always follows our first day)."""
    import adbc_driver_postgresql.dbapi as adbc
    import psycopg
    import pyarrow.parquet as pq

    from warehouse.pipeline.load import load_batch
    from warehouse.settings import LOADER_ROLE, Settings, url_for_role
    from warehouse.storage.connection import connect
    from warehouse.storage.schema import setup_warehouse

    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        return {"skipped": f"no PostgreSQL server ({type(error).__name__})"}
    name = f"healthlink_bench_{stamp.lower()}"
    admin.execute(f"CREATE DATABASE {name}")
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    landed = _landed(batches)
    rows = sum(pq.read_metadata(f).num_rows for _, files in landed for f in files.values())
    try:
        settings = Settings(warehouse=url, pseudonym_key="bench-key", environment="test")  # type: ignore[arg-type]
        setup_warehouse(settings)  # migrate (raw, consent, ops, indexes) outside the timing
        # Loaded as in production: the loader role, under the raw tables' row-level security.
        loader = settings.model_copy(update={"warehouse": url_for_role(url, LOADER_ROLE)})

        def ours() -> float:
            clock = time.perf_counter()
            for hospital, files in landed:
                with connect(loader) as conn, conn.transaction():
                    load_batch(conn, files, hospital, EXTRACT_DATE, datetime(2026, 11, 23, 2))
            return time.perf_counter() - clock

        def plain_ingest() -> float:
            clock = time.perf_counter()
            with adbc.connect(url) as conn, conn.cursor() as cursor:
                for index, (_, files) in enumerate(landed):
                    for entity, path in files.items():
                        cursor.adbc_ingest(
                            f"plain_{entity}",
                            pq.read_table(path),
                            mode="create" if index == 0 else "append",
                        )
                conn.commit()
            return time.perf_counter() - clock

        if plain_first:
            plain = plain_ingest()
        first = ours()
        reload = ours()  # the daily case for a re-sent day: every row replaced, times kept
        if not plain_first:
            plain = plain_ingest()
        version = admin.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
    return {
        "order": ["plain", "ours"] if plain_first else ["ours", "plain"],
        "rows": rows,
        "batches": len(landed),
        "server_version": version,
        "our_load_seconds": round(first, 3),
        "our_reload_seconds": round(reload, 3),
        "plain_adbc_ingest_seconds": round(plain, 3),
        "our_rows_per_s": _rate(rows, first),
        "plain_rows_per_s": _rate(rows, plain),
        "share_of_plain_ingest": _ratio(plain, first),
        "reload_share_of_plain_ingest": _ratio(plain, reload),
    }


def dbt_build(settings: Any) -> dict[str, Any]:
    from warehouse.pipeline.transform import TransformError, run_dbt

    clock = time.perf_counter()
    error = None
    try:
        run_dbt(["build"], settings)
    except TransformError as exc:
        error = str(exc)
    return {"seconds": round(time.perf_counter() - clock, 3), "error": error}


# ---------------------------------------------------------------- 5. per-batch fixed cost

FIXED_COST_HOSPITALS = 4  # one cold batch, then one warm batch for each of the three others
FIXED_COST_RUNS = 3
FIXED_COST_GOAL_S = 0.5


def prepare_empty_dataset(data_dir: Path, seed: int) -> Path:
    """Synthetic hospitals (UTF-8 and TIS-620, Gregorian and Buddhist era, one headerless) whose
    extract day has every file of the 43-file set and no data row: the header line where the
    hospital sends one, an empty file where it does not."""
    folder = data_dir / f"fixed-cost-empty-h{FIXED_COST_HOSPITALS}-seed{seed}"
    stamp = folder / "bench-dataset.json"
    if stamp.is_file():
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    _generate_in_child(folder, FIXED_COST_HOSPITALS, 40, seed)
    from warehouse.hospital_registry import load_registry

    files = 0
    for hospital in load_registry(folder / "registry").hospitals.values():
        for path in sorted(hospital.connector.extract_dir(EXTRACT_DATE).glob("*")):
            first = path.read_bytes().split(b"\n", 1)[0]
            path.write_bytes(first + b"\n" if hospital.connector.header else b"")
            files += 1
    stamp.write_text(json.dumps({"seed": seed, "files": files, "data_rows": 0}) + "\n")
    return folder


def _fixed_cost_once(dataset: str, home: str) -> dict[str, Any]:
    """One run, in a fresh interpreter: imports, then a cold batch and warm batches."""
    clock = time.perf_counter()
    from warehouse.consent import sender_choice
    from warehouse.hospital_registry import load_registry
    from warehouse.pipeline.batch import sync_batch
    from warehouse.settings import Settings
    from warehouse.storage.connection import connect
    from warehouse.storage.schema import setup_warehouse

    import_s = time.perf_counter() - clock
    settings = Settings(
        home=Path(home),
        registry_dir=Path(dataset) / "registry",
        pseudonym_key="bench-key",  # type: ignore[arg-type]
        environment="test",
    )
    setup_warehouse(settings)
    registry = load_registry(settings.registry_dir)
    with connect(settings) as conn:
        sender_choice.sync_hospitals(conn, registry)
    batches = []
    for hospital in registry.hospitals.values():
        clock = time.perf_counter()
        summary = sync_batch(hospital, EXTRACT_DATE, run_id="bench-fixed", settings=settings)
        seconds = time.perf_counter() - clock
        if summary.status != "loaded" or summary.rows_read:
            raise RuntimeError(f"{hospital.hospital_code}: {summary.status} {summary.reason}")
        batches.append(
            {
                "hospital_code": hospital.hospital_code,
                "encoding": hospital.connector.encoding,
                "header": hospital.connector.header,
                "seconds": round(seconds, 4),
                "stage_seconds": {k: round(v, 4) for k, v in summary.stage_seconds.items()},
            }
        )
    warm = sorted(b["seconds"] for b in batches[1:])
    return {
        "import_seconds": round(import_s, 3),
        "cold_seconds": batches[0]["seconds"],
        "warm_seconds": warm[len(warm) // 2],
        "batches": batches,
    }


def _fixed_cost_in_child(dataset: Path, home: Path) -> dict[str, Any]:
    if home.exists():
        shutil.rmtree(home)
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(_fixed_cost_once, (str(dataset), str(home)))


def fixed_cost(data_dir: Path, work: Path, seed: int) -> dict[str, Any]:
    """The per-batch fixed cost: median of FIXED_COST_RUNS runs, each in a fresh interpreter."""
    dataset = prepare_empty_dataset(data_dir, seed)
    runs = [
        _fixed_cost_in_child(dataset, work / f"fixed-cost-home-{n}") for n in range(FIXED_COST_RUNS)
    ]

    def median(name: str) -> float:
        values = sorted(run[name] for run in runs)
        return values[len(values) // 2]

    warm = median("warm_seconds")
    return {
        "method": (
            "empty extract (every file present, no data row) through the whole sync_batch on "
            "DuckDB; per run, a fresh interpreter: the first batch (cold), then one batch for "
            "each of three other hospitals (warm, their median); median of the runs"
        ),
        "hospitals": FIXED_COST_HOSPITALS,
        "runs": runs,
        "import_seconds": median("import_seconds"),
        "cold_seconds": median("cold_seconds"),
        "warm_seconds": warm,
        "goal_warm_seconds": FIXED_COST_GOAL_S,
        "met": warm <= FIXED_COST_GOAL_S,
    }


def run_fixed_cost(args: argparse.Namespace) -> int:
    started = datetime.now(UTC)
    load_before = _loadavg()
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    work = args.data_dir / f"run-{stamp}"
    work.mkdir(parents=True)
    try:
        result = fixed_cost(args.data_dir, work, args.seed)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "benchmark": "fixed-cost",
        "started_at_utc": started.isoformat(timespec="seconds"),
        "command": " ".join([".venv/bin/python -m bench.ingest", *sys.argv[1:]]),
        "label": args.label,
        **result,
        "machine": _machine(load_before),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"fixed-cost-{stamp}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"per-batch fixed cost (empty extract, median of {FIXED_COST_RUNS}): cold "
        f"{result['cold_seconds']:.3f} s, warm {result['warm_seconds']:.3f} s "
        f"(goal <= {FIXED_COST_GOAL_S} s: {'met' if result['met'] else 'not met'}); {path}",
        file=sys.stderr,
    )
    return 0


# ---------------------------------------------------------------- 4. rounds and medians

SIDES = ("raw_limit", "pipeline")


def round_order(number: int) -> list[str]:
    """Which side of the ratio runs first in round `number` (from 1): the raw limit in odd
    rounds, our pipeline in even ones, so neither side always gets the cold or warm caches."""
    return list(SIDES) if number % 2 else list(reversed(SIDES))


def run_rounds(
    args: argparse.Namespace,
    folder: Path,
    work: Path,
    stamp: str,
    log: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Every round on the same files: both sides in the round's order, then dbt build and the
    PostgreSQL load comparison on what this round's pipeline landed; the round's home is then
    removed (unless --keep-home) so the next round starts from an empty one."""
    rounds = []
    for number in range(1, args.repeats + 1):
        home = work / f"home-{number}"
        measure: dict[str, Callable[[], dict[str, Any]]] = {
            "raw_limit": partial(raw_limit, folder / "registry", work),
            "pipeline": partial(pipeline, folder, home),
        }
        result: dict[str, Any] = {"round": number, "order": round_order(number)}
        memory: dict[str, float] = {}
        for side in result["order"]:
            log(f"round {number}/{args.repeats}: {side.replace('_', ' ')}")
            result[side] = measure[side]()
            memory[f"after_{side}_mb"] = _maxrss_mb()
        raw, ours = result["raw_limit"], result["pipeline"]
        e2e = ours["sync_wall_seconds"]
        result["share_of_raw_limit"] = _ratio(raw["seconds"], e2e)
        log(
            f"  raw {raw['seconds']:.1f} s, ours {e2e:.1f} s "
            f"({ours['rows_loaded']:,} rows loaded): {result['share_of_raw_limit']}"
        )
        result["dbt"] = dbt_build(ours.pop("settings"))
        memory["after_dbt_mb"] = _maxrss_mb()
        log(f"  dbt build {result['dbt']['seconds']:.1f} s")
        if args.postgres:
            result["postgres_load"] = postgres_load(
                args.postgres, ours["batches"], f"{stamp}_r{number}", plain_first=number % 2 == 1
            )
            log(f"  PostgreSQL load: {_postgres_line(result['postgres_load'])}")
        else:
            result["postgres_load"] = {"skipped": "--postgres ''"}
        result["peak_rss_mb_so_far"] = memory
        if not args.keep_home:
            shutil.rmtree(home, ignore_errors=True)
        rounds.append(result)
    return rounds


def _postgres_line(pg: dict[str, Any]) -> str:
    if "skipped" in pg:
        return f"skipped: {pg['skipped']}"
    return (
        f"ours {pg['our_load_seconds']:.1f} s (reload {pg['our_reload_seconds']:.1f} s), "
        f"plain ADBC {pg['plain_adbc_ingest_seconds']:.1f} s: {pg['share_of_plain_ingest']:.1%}"
    )


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


RAW_COUNTS = ("rows", "rows_skipped_wrong_field_count", "bytes", "tables")
PIPELINE_COUNTS = ("rows_read", "rows_loaded", "rows_rejected", "rows_filtered", "rows_quarantined")


def counts_agree(rounds: list[dict[str, Any]]) -> bool:
    """Every round did the same work (same rows read, loaded, skipped): else a median would
    mix different runs."""

    def counts(r: dict[str, Any]) -> tuple[Any, ...]:
        return (
            *(r["raw_limit"][k] for k in RAW_COUNTS),
            *(r["pipeline"][k] for k in PIPELINE_COUNTS),
            *(
                (b["hospital_code"], b["status"], b["rows_loaded"])
                for b in r["pipeline"]["batches"]
            ),
        )

    return len({counts(r) for r in rounds}) == 1


def median_raw_limit(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The raw limit's timings as medians over the rounds (each on its own, so parse + load
    need not add up to the total); counts from the first round."""
    runs = [r["raw_limit"] for r in rounds]
    timed = ("seconds", "parse_seconds", "load_seconds")
    return {**runs[0], **{k: _median([run[k] for run in runs]) for k in timed}}


def median_pipeline(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Our pipeline's timings (end-to-end, each stage, each hospital's batch) as medians over
    the rounds, each on its own; counts from the first round."""
    runs = [r["pipeline"] for r in rounds]
    first = runs[0]

    def stage_medians(stage_seconds: list[dict[str, float]]) -> dict[str, float]:
        return {k: _median([s.get(k, 0.0) for s in stage_seconds]) for k in stage_seconds[0]}

    batches = []
    for index, batch in enumerate(first["batches"]):
        same = [run["batches"][index] for run in runs]
        kept = {k: v for k, v in batch.items() if k not in ("landing_path", "peak_rss_mb_after")}
        batches.append(
            {
                **kept,
                "seconds": _median([b["seconds"] for b in same]),
                "stage_seconds": stage_medians([b["stage_seconds"] for b in same]),
            }
        )
    return {
        **first,
        "setup_seconds": _median([run["setup_seconds"] for run in runs]),
        "sync_wall_seconds": _median([run["sync_wall_seconds"] for run in runs]),
        "stage_seconds": stage_medians([run["stage_seconds"] for run in runs]),
        "stage_sum_seconds": _median([run["stage_sum_seconds"] for run in runs]),
        "batches": batches,
    }


def median_dbt(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    runs = [r["dbt"] for r in rounds]
    errors = [run["error"] for run in runs if run["error"]]
    return {
        "seconds": _median([run["seconds"] for run in runs]),
        "seconds_per_round": [run["seconds"] for run in runs],
        "error": errors[0] if errors else None,
    }


def median_postgres_load(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The PostgreSQL comparison's medians; ratio = median(plain seconds) / median(ours)."""
    runs = [r["postgres_load"] for r in rounds]
    skipped = [run for run in runs if "skipped" in run]
    if skipped:
        return skipped[0]
    plain = _median([run["plain_adbc_ingest_seconds"] for run in runs])
    first = _median([run["our_load_seconds"] for run in runs])
    reload = _median([run["our_reload_seconds"] for run in runs])
    rows = runs[0]["rows"]
    return {
        "rows": rows,
        "batches": runs[0]["batches"],
        "server_version": runs[0]["server_version"],
        "our_load_seconds": first,
        "our_reload_seconds": reload,
        "plain_adbc_ingest_seconds": plain,
        "our_rows_per_s": _rate(rows, first),
        "plain_rows_per_s": _rate(rows, plain),
        "share_of_plain_ingest": _ratio(plain, first),
        "reload_share_of_plain_ingest": _ratio(plain, reload),
        "share_of_plain_ingest_per_round": [run["share_of_plain_ingest"] for run in runs],
        "reload_share_of_plain_ingest_per_round": [
            run["reload_share_of_plain_ingest"] for run in runs
        ],
        "order_per_round": [run["order"] for run in runs],
    }


# ---------------------------------------------------------------- 6. report


def _rate(rows: int, seconds: float | None) -> float | None:
    return round(rows / seconds) if seconds else None


def _machine(load_before: list[float]) -> dict[str, Any]:
    import duckdb
    import great_expectations
    import pyarrow
    from dbt.version import __version__ as dbt_version

    return {
        "nproc": os.cpu_count(),
        "sched_affinity": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
        "great_expectations": great_expectations.__version__,
        "dbt_core": dbt_version,
        "load_average_before": load_before,
        "load_average_after": _loadavg(),
    }


def build_report(
    args: argparse.Namespace,
    dataset: dict[str, Any],
    rounds: list[dict[str, Any]],
    load_before: list[float],
    memory: dict[str, Any],
    started: datetime,
    wall: float,
) -> dict[str, Any]:
    raw, ours, dbt = median_raw_limit(rounds), median_pipeline(rounds), median_dbt(rounds)
    data_rows = dataset["data_rows"]
    stage = ours["stage_seconds"]
    read, loaded = ours["rows_read"], ours["rows_loaded"]
    validated = read - ours["rows_filtered"]
    e2e = ours["sync_wall_seconds"]
    basis = {
        "parse": read,
        "consent_filter": read,
        "validate": validated,
        "land": loaded,
        "load": loaded,
    }
    stages = {
        name: {
            "seconds": stage.get(name, 0.0),
            "rows": basis[name],
            "rows_per_s": _rate(basis[name], stage.get(name)),
        }
        for name in STAGES
    }
    stages["dbt"] = {
        "seconds": dbt["seconds"],
        "rows": loaded,
        "rows_per_s": _rate(loaded, dbt["seconds"]),
    }
    share = raw["seconds"] / e2e if e2e else None
    return {
        "benchmark": "ingest",
        "started_at_utc": started.isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 1),
        "command": " ".join([".venv/bin/python -m bench.ingest", *sys.argv[1:]]),
        "parameters": {
            "rows_target": args.rows_target,
            "hospitals": args.hospitals,
            "seed": args.seed,
            "extract_date": EXTRACT_DATE.isoformat(),
            "days": 1,
            "error_rate": ERROR_RATE,
            "repeats": args.repeats,
        },
        "figures": (
            f"medians over {args.repeats} rounds on the same files, alternating which side "
            "runs first (round 1 the raw limit, round 2 our pipeline, ...); each round's own "
            "figures under 'rounds'"
        ),
        "counts_same_every_round": counts_agree(rounds),
        "dataset": {k: v for k, v in dataset.items() if k != "folder"},
        "raw_limit": {
            **raw,
            "rows_per_s": _rate(raw["rows"], raw["seconds"]),
            "data_rows_per_s": _rate(data_rows, raw["seconds"]),
        },
        "pipeline": {
            "consent_registrations_imported": ours["consent_registrations_imported"],
            "setup_seconds": ours["setup_seconds"],
            "end_to_end_seconds": e2e,
            "data_rows_per_s": _rate(data_rows, e2e),
            "stage_sum_seconds": ours["stage_sum_seconds"],
            "unstaged_seconds": round(e2e - ours["stage_sum_seconds"], 3),
            "rows_read": read,
            "rows_loaded": loaded,
            "rows_rejected": ours["rows_rejected"],
            "rows_filtered": ours["rows_filtered"],
            "rows_quarantined": ours["rows_quarantined"],
            "stages": stages,
            "batches": ours["batches"],
        },
        "dbt": dbt,
        "ratio": {
            "method": "median(raw-limit seconds) / median(end-to-end seconds) over the rounds",
            "raw_limit_seconds": raw["seconds"],
            "end_to_end_seconds": e2e,
            "share_of_raw_limit": round(share, 4) if share is not None else None,
            "share_of_raw_limit_per_round": [r["share_of_raw_limit"] for r in rounds],
            "target": TARGET_SHARE,
            "met": bool(share is not None and share >= TARGET_SHARE),
        },
        "postgres_load": median_postgres_load(rounds),
        "rounds": rounds,
        "memory": memory,
        "machine": _machine(load_before),
    }


def _fmt_rate(value: float | None) -> str:
    return f"{value:,.0f}" if value else "–"


def _postgres_md(pg: dict[str, Any]) -> str:
    if "skipped" in pg:
        return f"## PostgreSQL load\n\nSkipped in this run: {pg['skipped']}."
    return f"""## PostgreSQL load (same run, same landed Parquet, PostgreSQL {pg["server_version"]})

**Method.** The batches the pipeline landed above, loaded into a throwaway PostgreSQL database
by our `warehouse.pipeline.load.load_batch` (Arrow → CSV → `COPY` into a TEMP staging table
`ON COMMIT DROP`, first-seen times, delete + insert into `raw.*` with its indexes, one
transaction per hospital), then again (a re-sent day: every row replaced, first-seen times
kept); against a plain ADBC `adbc_ingest` of the same Arrow tables into new, index-free
tables. In every round (its own throwaway database), alternating which side goes first
(round 1 plain ADBC, round 2 ours, ...). Seconds are medians over the rounds; **Ratio** =
median plain seconds / median our seconds.

| | seconds (median) | rows/s |
|---|---:|---:|
| plain ADBC ingest ({pg["rows"]:,} rows, {pg["batches"]} batches) | {pg["plain_adbc_ingest_seconds"]:.1f} | {_fmt_rate(pg["plain_rows_per_s"])} |
| our load, first day | {pg["our_load_seconds"]:.1f} | {_fmt_rate(pg["our_rows_per_s"])} |
| our load, same day re-sent | {pg["our_reload_seconds"]:.1f} | |
| **ratio, first day / re-sent** | **{pg["share_of_plain_ingest"]:.1%}** / {pg["reload_share_of_plain_ingest"]:.1%} | |

Per round (first day / re-sent): {_per_round(pg["share_of_plain_ingest_per_round"], pg["reload_share_of_plain_ingest_per_round"])}."""


def _per_round(*ratios: list[float | None]) -> str:
    def pct(value: float | None) -> str:
        return f"{value:.1%}" if value is not None else "–"

    return "; ".join(
        f"round {n}: " + " / ".join(pct(r) for r in figures)
        for n, figures in enumerate(zip(*ratios, strict=True), start=1)
    )


FIRST_LABEL = {"raw_limit": "raw limit", "pipeline": "our pipeline"}


def _rounds_md(report: dict[str, Any]) -> str:
    rows = [
        "| round | first | raw limit s | our end-to-end s | ratio | dbt build s |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for r in report["rounds"]:
        share = r["share_of_raw_limit"]
        rows.append(
            f"| {r['round']} | {FIRST_LABEL[r['order'][0]]} | "
            f"{r['raw_limit']['seconds']:.1f} | {r['pipeline']['sync_wall_seconds']:.1f} | "
            f"{f'{share:.1%}' if share is not None else '–'} | {r['dbt']['seconds']:.1f} |"
        )
    return "\n".join(rows)


def _fixed_cost_md(fixed: dict[str, Any] | None) -> str:
    if not fixed:
        return "## Per-batch fixed cost\n\nNot run."
    verdict = "met" if fixed["met"] else "not met"
    return f"""## Per-batch fixed cost (same run)

**Method.** {fixed["method"]}.

| | seconds |
|---|---:|
| cold: the first batch of a process (GE's first validations, DuckDB's first open) | {fixed["cold_seconds"]:.3f} |
| **warm: each further hospital (goal ≤ {fixed["goal_warm_seconds"]} s, {verdict})** | **{fixed["warm_seconds"]:.3f}** |
| imports (once per process, not in the batches) | {fixed["import_seconds"]:.2f} |"""


def write_benchmarks_md(report: dict[str, Any], path: Path) -> None:
    raw, ours, ratio = report["raw_limit"], report["pipeline"], report["ratio"]
    machine, data = report["machine"], report["dataset"]
    stages = ours["stages"]
    e2e = ours["end_to_end_seconds"]
    ranked = sorted(
        ((n, s["seconds"]) for n, s in stages.items() if n != "dbt"), key=lambda item: -item[1]
    )
    where = ", ".join(f"{n} {s:.1f} s ({s / e2e:.0%})" for n, s in ranked) if e2e else ""
    verdict = "**met**" if ratio["met"] else "**not met**"
    postgres_section = _postgres_md(report.get("postgres_load") or {"skipped": "not run"})
    rows = [
        "| stage | seconds | rows | rows/s |",
        "|---|---:|---:|---:|",
        *(
            f"| {name} | {s['seconds']:.2f} | {s['rows']:,} | {_fmt_rate(s['rows_per_s'])} |"
            for name, s in stages.items()
        ),
    ]
    text = f"""# Benchmarks

## Ingest (`make bench`, `bench/ingest.py`)

**Method.** One synthetic extract day (`days=1`, `error_rate` {report["parameters"]["error_rate"]},
{report["parameters"]["hospitals"]} hospitals, the generator's default mix: one TIS-620 hospital,
one Buddhist-era, one headerless; seed {report["parameters"]["seed"]}), sized to at least
{report["parameters"]["rows_target"]:,} data rows. On the same files, in the same run:

- **Raw limit**: every file parsed by plain `pyarrow.csv` (delimiter `|`, no quoting, every column
  a string, header per the hospital's YAML, TIS-620 transcoded by pyarrow's own
  `ReadOptions(encoding='tis-620')`, lines with a wrong field count skipped) and loaded into a fresh
  DuckDB file (`CREATE TABLE AS` from the Arrow table, `INSERT BY NAME` for the next hospitals),
  timed up to and including the closing checkpoint. No checks, no mapping, no consent.
- **Our pipeline**: a fresh `HEALTHLINK_HOME`; consent registrations imported and the registry
  mirrored (not timed in the ratio); then `warehouse.pipeline.batch.sync_batch` per hospital, one after
  another. **End-to-end** = the sum of the `sync_batch` wall times (extract → loaded into
  `raw.*`, consent filter, Great Expectations validation, landing Parquet and ops records
  included; dbt excluded). dbt (`dbt build`: staging → marts → published, with tests) is timed
  on its own.
- **Rounds**: both sides run {report["parameters"]["repeats"]} times on the same generated files,
  alternating which goes first (round 1 the raw limit, round 2 our pipeline, ...); each round of
  our pipeline in a new, empty `HEALTHLINK_HOME` (its own warehouse, dbt build and PostgreSQL
  load). Every figure below is the median over the rounds, each figure on its own (so stages
  need not add up to the total); each round's own figures are in the per-round table below
  and in the results file.
- **Ratio** = median raw-limit seconds / median end-to-end seconds, i.e. our throughput as a
  share of the raw parse + load throughput; each round's own ratio is shown too.
  **Target: ≥ {TARGET_SHARE:.0%}.**

Stage rows/s: parse and consent filter over rows read (canonical entity rows, which are more
than file lines: one SERVICE line also yields vital-sign rows), validate over rows that passed
the consent filter, land / load / dbt over rows loaded.

## Latest result ({report["started_at_utc"].replace("T", " ").replace("+00:00", " UTC")})

`{report["command"]}`

| | value |
|---|---:|
| data rows in the files (manifest) | {data["data_rows"]:,} ({data["extract_bytes"] / 2**20:,.0f} MiB, {data["patients"]:,} patients) |
| raw limit: parse + load (median of {report["parameters"]["repeats"]}) | {raw["seconds"]:.1f} s ({raw["parse_seconds"]:.1f} parse + {raw["load_seconds"]:.1f} load), {_fmt_rate(raw["data_rows_per_s"])} rows/s |
| our pipeline end-to-end ({len(ours["batches"])} × `sync_batch`, median) | {e2e:.1f} s, {_fmt_rate(ours["data_rows_per_s"])} file rows/s |
| **ratio of the medians (target ≥ {TARGET_SHARE:.0%})** | **{ratio["share_of_raw_limit"]:.1%}**, {verdict} |
| rows read / loaded / rejected / filtered by consent | {ours["rows_read"]:,} / {ours["rows_loaded"]:,} / {ours["rows_rejected"]:,} / {ours["rows_filtered"]:,} |
| dbt build (median, one per round) | {report["dbt"]["seconds"]:.1f} s{" (FAILED)" if report["dbt"]["error"] else ""} |
| peak RSS (the benchmark process over the whole run, all rounds) | {report["memory"]["peak_rss_mb"]:,.0f} MB |
| machine | {machine["nproc"]} cores, {machine["memory_gb"]} GB, Python {machine["python"]}, DuckDB {machine["duckdb"]}, pyarrow {machine["pyarrow"]}, GE {machine["great_expectations"]}, dbt {machine["dbt_core"]} |
| load average before → after | {" / ".join(map(str, machine["load_average_before"]))} → {" / ".join(map(str, machine["load_average_after"]))} |

{_rounds_md(report)}

Stages (medians):

{chr(10).join(rows)}

Where the end-to-end time goes: {where}; outside the timed stages (consent-state read, reject
and quarantine bookkeeping, accounting) {ours["unstaged_seconds"]:.1f} s.

{postgres_section}

{_fixed_cost_md(report.get("fixed_cost"))}

Full figures, per hospital: `bench/results/latest.json` (and `bench/results/ingest-<UTC>.json`).
"""
    # Hand-written analysis below the marker survives a re-run; the part above is regenerated.
    if path.is_file() and NOTES_MARKER in path.read_text():
        text += "\n" + NOTES_MARKER + path.read_text().split(NOTES_MARKER, 1)[1]
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ingest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows-target", type=int, default=5_000_000)
    parser.add_argument("--hospitals", type=int, default=8)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="rounds of both sides, alternating which runs first; the figures are the medians",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "data")
    parser.add_argument(
        "--no-markdown", action="store_true", help="do not rewrite BENCHMARKS.md (smoke runs)"
    )
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="PostgreSQL server for the load stage (a throwaway database is "
        "created and dropped there); skipped when none answers, or ''",
    )
    parser.add_argument(
        "--keep-home",
        action="store_true",
        help="keep each round's HEALTHLINK home (home-<round>) under --data-dir",
    )
    parser.add_argument(
        "--scenario",
        choices=("all", "fixed-cost"),
        default="all",
        help="all: the ingest day, then the per-batch fixed cost; fixed-cost: only the latter",
    )
    parser.add_argument("--label", default="", help="a note kept in the fixed-cost results")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.scenario == "fixed-cost":
        args.data_dir.mkdir(parents=True, exist_ok=True)
        return run_fixed_cost(args)

    started = datetime.now(UTC)
    wall = time.perf_counter()
    load_before = _loadavg()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    work = args.data_dir / f"run-{stamp}"
    work.mkdir(parents=True)

    def log(message: str) -> None:
        print(f"[bench {time.perf_counter() - wall:7.1f} s] {message}", file=sys.stderr, flush=True)

    log(f"dataset: >= {args.rows_target:,} rows, {args.hospitals} hospitals, seed {args.seed}")
    dataset = prepare_dataset(args.data_dir, args.rows_target, args.hospitals, args.seed)
    folder = Path(dataset["folder"])
    how = "reused" if dataset["reused"] else f"generated in {dataset['generate_seconds']} s"
    log(f"  {dataset['data_rows']:,} rows in {folder} ({how})")
    memory: dict[str, Any] = {"after_dataset_mb": _maxrss_mb()}

    rounds = run_rounds(args, folder, work, stamp, log)
    memory["rounds"] = [{"round": r["round"], **r.pop("peak_rss_mb_so_far")} for r in rounds]
    memory["peak_rss_mb"] = _maxrss_mb()
    memory["note"] = (
        "ru_maxrss of the benchmark process (monotonic: each figure is the peak so far, over "
        "every round before it; peak_rss_mb is the whole run's); the generator runs in a "
        "child process"
    )

    log("per-batch fixed cost: an empty extract through sync_batch, cold and warm")
    fixed = fixed_cost(args.data_dir, work, args.seed)
    log(f"  cold {fixed['cold_seconds']:.3f} s, warm {fixed['warm_seconds']:.3f} s")

    report = build_report(
        args, dataset, rounds, load_before, memory, started, time.perf_counter() - wall
    )
    report["fixed_cost"] = fixed
    args.out.mkdir(parents=True, exist_ok=True)
    body = json.dumps(report, indent=2) + "\n"
    (args.out / f"ingest-{stamp}.json").write_text(body)
    (args.out / "latest.json").write_text(body)
    if not args.no_markdown:
        write_benchmarks_md(report, ROOT / "BENCHMARKS.md")
    if not args.keep_home:
        shutil.rmtree(work, ignore_errors=True)
    ratio = report["ratio"]
    log(
        f"ratio of the medians {ratio['share_of_raw_limit']:.1%} of the raw limit (target "
        f"{TARGET_SHARE:.0%}): {'met' if ratio['met'] else 'not met'}; per round "
        f"{ratio['share_of_raw_limit_per_round']}; results in {args.out}"
    )
    return 0 if report["dbt"]["error"] is None else 1


if __name__ == "__main__":
    raise SystemExit(main())
