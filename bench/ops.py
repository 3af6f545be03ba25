"""Operations ledger benchmark: a month of 1,100 hospitals (33,000 ledger rows) answering the
report queries of `healthlink ops report`.

    .venv/bin/python -m bench.ops [--hospitals 1100] [--days 30] [--backend both|duckdb|postgres]
                                  [--repeats 5]

1. A fresh warehouse (DuckDB file, or a throwaway PostgreSQL database set up by its owner;
   the daily run's ops records written as healthlink_loader, the report read as
   healthlink_ops, as in production). The month's ops records are generated, counts and
   codes only: ops.batch (about 2% of hospital-days quarantined, 0.5% failed, 3% missing:
   no batch), ops.batch_entity (nine entities per batch) and ops.reject (a few per batch).
2. The ledger written day by day by the daily run's own step
   (warehouse.pipeline.daily_run.record_ledger, the registry of 1,100 hospitals): seconds per
   day.
3. The report's queries (warehouse.pipeline.ops.ops_report) over the whole month for all
   hospitals and for one hospital, and the one-select reject-rate trend of a hospital over
   30 days (ops.dq_entity_day): the median of --repeats runs each, against the budget of one
   second, and against the bare scan of the same ledger rows (`SELECT *` of the window).
   PostgreSQL: the ops tables ANALYZEd first (autovacuum's statistics after a month).
4. The operations page's data calls (warehouse.api.routers.ops.page_data: heatmap grid,
   reject-rate trend, quarantines, top rules, last runs) for all hospitals and for one
   health region, and drawing its two SVG charts (warehouse.api.ops_charts) for all hospitals.
   A page load for all hospitals, both ways the page serves it (warehouse.api
   .ops_chart_cache): charts not drawn yet for this ledger version (the ledger's version, every
   data call, the drawing) and drawn already (the version and the page's tables only).
5. bench/results/ops-<UTC>.json.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import SecretStr

from connectors.contract import ENTITIES
from warehouse.api import ops_charts
from warehouse.api.routers.ops import page_data, scope_codes
from warehouse.hospital_registry import Hospital, Network, Registry
from warehouse.pipeline.daily_run import record_ledger
from warehouse.pipeline.ops import ledger_version, ops_report
from warehouse.settings import LOADER_ROLE, Settings, url_for_role
from warehouse.storage.connection import WarehouseConnection, connect
from warehouse.storage.schema import setup_warehouse

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 1.0
OPS_ROLE = "healthlink_ops"
LAST_DAY = date(2026, 11, 30)
RULES = ("national_id_readable", "expect_column_values_to_be_between", "regex", "not_null")


def registry(hospitals: int) -> Registry:
    return Registry(
        networks={"NET01": Network(code="NET01", name="Network one")},
        hospitals={
            code: Hospital(
                hospital_code=code,
                name=f"Hospital {code}",
                network="NET01",
                health_region=i % 13 + 1,
                participating_since=date(2025, 1, 1),
                freshness_sla_days=1 + i % 4,
                connector={"kind": "file43", "path": "/nonexistent"},  # type: ignore[arg-type]
            )
            for i, code in enumerate(f"{10000 + i:05d}" for i in range(hospitals))
        },
    )


def month_of_batches(
    codes: list[str], days: list[date], seed: int
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """ops.batch, ops.batch_entity and ops.reject rows of the month (counts only)."""
    rng = random.Random(seed)
    batch: list[dict[str, Any]] = []
    entity: list[dict[str, Any]] = []
    reject: list[dict[str, Any]] = []
    for day in days:
        for code in codes:
            draw = rng.random()
            if draw < 0.03:
                continue  # missing: nothing arrived
            status = "quarantined" if draw < 0.05 else "failed" if draw < 0.055 else "loaded"
            counts = {e: rng.randint(50, 2000) for e in ENTITIES}
            rejected = {e: rng.randint(0, 3) for e in ENTITIES}
            read = sum(counts.values())
            batch.append(
                {
                    "hospital_code": code,
                    "extract_date": day,
                    "batch_id": f"b{code}{day:%Y%m%d}",
                    "run_id": f"bench-{day}",
                    "status": status,
                    "rows_read": read,
                    "rows_loaded": read - sum(rejected.values()) if status == "loaded" else 0,
                    "rows_rejected": sum(rejected.values()),
                    "rows_filtered": 0,
                    "rows_quarantined": read if status == "quarantined" else 0,
                    "reason_code": {"quarantined": "reject_rate", "failed": "unexpected_error"}.get(
                        status
                    ),
                }
            )
            if status != "loaded":
                continue
            for name in ENTITIES:
                entity.append(
                    {
                        "hospital_code": code,
                        "extract_date": day,
                        "entity": name,
                        "rows_read": counts[name],
                        "rows_loaded": counts[name] - rejected[name],
                        "rows_rejected": rejected[name],
                        "rows_filtered": 0,
                    }
                )
                for line in range(rejected[name]):
                    reject.append(
                        {
                            "hospital_code": code,
                            "extract_date": day,
                            "entity": name,
                            "source_line": line + 2,
                            "rule": rng.choice(RULES),
                        }
                    )
    return pa.Table.from_pylist(batch), pa.Table.from_pylist(entity), pa.Table.from_pylist(reject)


def _insert(conn: WarehouseConnection, table: str, rows: pa.Table) -> None:
    """The generated columns; the table's others stay NULL (insert_arrow takes every column)."""
    cursor = conn.execute(f"SELECT * FROM {table} WHERE false")
    columns = [d[0] for d in cursor.description]
    full = pa.table(
        {
            c: rows.column(c) if c in rows.column_names else pa.nulls(len(rows), pa.string())
            for c in columns
        }
    )
    conn.insert_arrow(table, full)


def _median_s(repeats: int, call: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


@contextmanager
def _warehouse(backend: str, work: Path) -> Iterator[tuple[Settings, Settings, Settings]]:
    """(owner, loader, ops) settings of a fresh warehouse."""
    home = work / f"home-{backend}"
    # Ops records hold no patient; the key only satisfies the settings.
    base = Settings(
        home=home, registry_dir=work, environment="test", pseudonym_key=SecretStr("bench-ops")
    )
    if backend == "duckdb":
        setup_warehouse(base)
        yield base, base, base
        return
    import psycopg

    from tests.support.machine import pg_url

    database = f"healthlink_bench_ops_{int(time.time())}"
    with psycopg.connect(pg_url("postgres"), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {database}")
    try:
        owner = base.model_copy(update={"warehouse": pg_url(database)})
        setup_warehouse(owner)
        yield (
            owner,
            owner.model_copy(update={"warehouse": url_for_role(owner.warehouse, LOADER_ROLE)}),
            owner.model_copy(update={"warehouse": url_for_role(owner.warehouse, OPS_ROLE)}),
        )
    finally:
        with psycopg.connect(pg_url("postgres"), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def run_backend(
    backend: str, hospitals: int, days: int, repeats: int, work: Path
) -> dict[str, Any]:
    the_registry = registry(hospitals)
    codes = sorted(the_registry.hospitals)
    month = [LAST_DAY - timedelta(days=days - 1 - i) for i in range(days)]
    batch, entity, reject = month_of_batches(codes, month, seed=42)
    with _warehouse(backend, work) as (owner, loader, ops_reader):
        with connect(loader) as conn:
            _insert(conn, "ops.batch", batch)
            _insert(conn, "ops.batch_entity", entity)
            _insert(conn, "ops.reject", reject)
            per_day = []
            for day in month:
                started = time.perf_counter()
                record_ledger(conn, the_registry, day, f"bench-{day}", datetime.now(UTC))
                per_day.append(time.perf_counter() - started)
            ledger_rows = conn.execute("SELECT count(*) FROM ops.hospital_day").fetchone()
        if backend == "postgres":  # statistics current, as autovacuum keeps them after a load
            with connect(owner) as conn:
                conn.execute("ANALYZE ops.batch, ops.batch_entity, ops.reject, ops.hospital_day")
        first, last = month[0], month[-1]
        one = codes[len(codes) // 2]
        region = scope_codes(the_registry, 1, None, None)
        with connect(ops_reader) as conn:
            conn.execute("SELECT count(*) FROM ops.hospital_day").fetchone()  # warm
            page_all = page_data(conn, first, last, None)
            timings = {
                "report_all_hospitals_s": _median_s(repeats, lambda: ops_report(conn, first, last)),
                "report_one_hospital_s": _median_s(
                    repeats, lambda: ops_report(conn, first, last, one)
                ),
                "reject_rate_trend_one_select_s": _median_s(
                    repeats,
                    lambda: conn.execute(
                        "SELECT extract_date, entity, reject_rate FROM ops.dq_entity_day "
                        "WHERE hospital_code = ? AND extract_date >= ? ORDER BY 1, 2",
                        [one, first],
                    ).fetchall(),
                ),
                "page_data_all_hospitals_s": _median_s(
                    repeats, lambda: page_data(conn, first, last, None)
                ),
                "page_data_one_region_s": _median_s(
                    repeats, lambda: page_data(conn, first, last, region)
                ),
                "ledger_version_s": _median_s(repeats, lambda: ledger_version(conn)),
                "page_tables_all_hospitals_s": _median_s(
                    repeats, lambda: page_data(conn, first, last, None, charts=False)
                ),
                "bare_scan_of_the_window_s": _median_s(
                    repeats,
                    lambda: conn.execute(
                        "SELECT * FROM ops.hospital_day WHERE extract_date BETWEEN ? AND ?",
                        [first, last],
                    ).fetchall(),
                ),
            }
    charts = {
        "page_charts_all_hospitals_s": _median_s(
            repeats,
            lambda: (
                ops_charts.heatmap(page_all["grid"], first, last),
                ops_charts.reject_trend(page_all["trend"], first, last),
            ),
        )
    }
    # A page load (the audit row aside): charts to draw, or drawn already for this version.
    page_load = {
        "page_load_charts_drawn_s": timings["ledger_version_s"]
        + timings["page_data_all_hospitals_s"]
        + charts["page_charts_all_hospitals_s"],
        "page_load_charts_cached_s": timings["ledger_version_s"]
        + timings["page_tables_all_hospitals_s"],
    }
    report_s = timings["report_all_hospitals_s"]
    return {
        "backend": backend,
        "ledger_rows": ledger_rows[0] if ledger_rows else 0,
        "ops_batch_rows": batch.num_rows,
        "ops_batch_entity_rows": entity.num_rows,
        "ops_reject_rows": reject.num_rows,
        "ledger_write_per_day_s": {
            "median": statistics.median(per_day),
            "max": max(per_day),
        },
        **{k: round(v, 4) for k, v in timings.items()},
        # Drawing is CPU in the API process, not the database: reported beside the budget.
        **{k: round(v, 4) for k, v in charts.items()},
        **{k: round(v, 4) for k, v in page_load.items()},
        "region_hospitals": len(region or []),
        "budget_s": BUDGET_S,
        "met": max(timings.values()) < BUDGET_S,
        "report_share_of_budget": round(report_s / BUDGET_S, 3),
        "report_vs_bare_scan": round(report_s / timings["bare_scan_of_the_window_s"], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--hospitals", type=int, default=1100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backend", choices=["both", "duckdb", "postgres"], default="both")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    backends = ["duckdb", "postgres"] if args.backend == "both" else [args.backend]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    with tempfile.TemporaryDirectory(prefix="bench-ops-") as work:
        results = [
            run_backend(b, args.hospitals, args.days, args.repeats, Path(work)) for b in backends
        ]
    report = {
        "benchmark": "ops",
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "hospitals": args.hospitals,
        "days": args.days,
        "repeats": args.repeats,
        "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"ops-{stamp}.json"
    path.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    for result in results:
        print(json.dumps(result, default=str))
    print(f"results in {path}")
    return 0 if all(r["met"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
