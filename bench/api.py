"""API latency benchmark: server-side p50/p95/p99 against the bare SQL for the same patients.

    .venv/bin/python -m bench.api [--patients 1000000] [--backend both|duckdb|postgres]
                                  [--requests 300] [--duckdb-requests 40]
                                  [--visits-per-patient 0.3] [--repeats 3]
                                  [--home DIR] [--data-dir DIR] [--out DIR]

1. A synthetic dataset (4 hospitals, two extract days, 1 year of history, few visits per
   patient so that 1M patients stays cheap), built through the real pipeline: consent
   import → sync_batch per hospital → dbt build (tests/support/build_warehouse.py, in a child
   process). PostgreSQL: a throwaway database, dropped at the end.
2. uvicorn on 127.0.0.1 serving warehouse.api.main:app (on PostgreSQL connected as
   healthlink_api); one physician; for --requests random visible patients: search by
   national ID, search by (first, last) name with a one-letter typo, and the patient record.
   Server-side time is the app's own `Server-Timing: app;dur=` header (session check,
   queries, audit append, serialisation), not the HTTP round trip.
3. Bare SQL in the same run for the same patients, on a connection of the same role with
   the same physician context: the patient lookup by cid; the candidate query of the name
   search; the record's reads as the API makes them (warehouse.api.records.read_record,
   without HTTP, session and audit; before 2026-12-06 it was the patient row plus the nine
   published category views).
4. bench/results/api-<UTC>.json (or --out DIR): absolute ms and the API / SQL ratio per
   percentile. Steps 2-3 run --repeats times (default 3) on the same warehouse, server and
   sampled patients, alternating which side goes first (repeat 1 the API, repeat 2 the bare
   SQL, ...; "order_per_repeat"); each percentile reported is the median of the repeats' (every
   repeat's figures kept under "runs"), and the ratio is median API / median bare SQL of that
   percentile.

At 100,000 patients on DuckDB only (the embedded default's target, record p95 <= 100 ms):
    .venv/bin/python -m bench.api --patients 100000 --backend duckdb --duckdb-requests 60 --repeats 3

--home DIR (DuckDB only): build the warehouse in DIR once and reuse it on later runs with the
same DIR (the build is skipped when DIR/.built exists; delete DIR to rebuild, e.g. after a
change under dbt_project/: `dbt build` on it also works). Every run adds its own physician
session and audit rows; the patients sampled are the same.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

ROOT = Path(__file__).resolve().parent.parent
START = date(2026, 11, 23)
PINCODE = "482916"
LICENCE = "99001"
KEY = "test-pseudonym-key"  # the key tests/support/build_warehouse.py builds with


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "n": len(ordered)}


def generate(out: Path, patients: int, visits: float) -> None:
    from synthetic import generate_dataset

    if (out / "manifest.json").exists():
        return
    generate_dataset(
        out,
        hospitals=4,
        patients=patients,
        days=2,  # the build syncs two days, as the API tests do
        start_date=START,
        seed=11,
        tis620_hospitals=1,
        buddhist_era_hospitals=1,
        headerless_hospitals=1,
        error_rate=0.0,
        visits_per_patient=visits,
        history_years=1,
    )


def _typo(name: str) -> str:
    """One letter replaced in the middle: the misspelling a physician might type."""
    middle = len(name) // 2
    return name[:middle] + ("ก" if name[middle] != "ก" else "ข") + name[middle + 1 :]


def measure_api(url: str, sample: list[tuple[str, str, str, str]]) -> dict[str, Any]:
    import httpx

    timings: dict[str, list[float]] = {"search_id": [], "search_name": [], "record": []}
    with httpx.Client(base_url=url, timeout=120) as client:
        token = client.post("/auth/login", json={"licence": LICENCE, "pincode": PINCODE}).json()[
            "token"
        ]
        headers = {"Authorization": f"Bearer {token}"}
        client.post(
            "/auth/terms", json={"accept": True, "terms_version": "2026-01"}, headers=headers
        )

        def timed(kind: str, response: httpx.Response) -> None:
            assert response.status_code == 200, response.text[:200]
            value = response.headers["server-timing"].split("dur=")[1]
            timings[kind].append(float(value))

        for key, cid, first, last in sample:
            timed(
                "search_id",
                client.post("/patients/search", json={"national_id": cid}, headers=headers),
            )
            timed(
                "search_name",
                client.post(
                    "/patients/search",
                    json={"first_name": _typo(first), "last_name": last},
                    headers=headers,
                ),
            )
            timed("record", client.get(f"/patients/{key}/record", headers=headers))
    return timings


def measure_sql(
    conn: Any, sample: list[tuple[str, str, str, str]], hospital: str, gate_sql: str | None
) -> dict[str, list[float]]:
    from warehouse.api.gate import set_physician
    from warehouse.api.names import blocking_keys, normalise_name
    from warehouse.api.records import read_record

    timings: dict[str, list[float]] = {"search_id": [], "search_name": [], "record": []}

    def timed(kind: str, work: Callable[[], None]) -> None:
        started = time.perf_counter()
        with conn.transaction():
            set_physician(conn, LICENCE, hospital)
            work()
        timings[kind].append((time.perf_counter() - started) * 1000)

    for key, cid, first, last in sample:

        def by_id(cid: str = cid) -> None:
            conn.execute("SELECT * FROM published.patient WHERE cid = ?", [cid]).fetchall()

        timed("search_id", by_id)
        keys = sorted(blocking_keys(normalise_name(_typo(first)), normalise_name(last)))

        def by_name(keys: list[str] = keys) -> None:
            conn.execute(
                "SELECT * FROM published.patient WHERE patient_key IN (SELECT patient_key FROM "
                f"api.name_key WHERE name_key IN ({', '.join('?' for _ in keys)}))",
                keys,
            ).fetchall()

        timed(
            "search_name",
            by_name,
        )

        def record(key: str = key) -> None:
            read_record(conn, gate_sql, key)

        timed("record", record)
    return timings


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return (
        ordered[len(ordered) // 2]
        if len(ordered) % 2
        else round((ordered[len(ordered) // 2 - 1] + ordered[len(ordered) // 2]) / 2, 3)
    )


def median_of_runs(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each percentile as the median over the runs (n: one run's request count)."""
    merged = {q: _median([run[q] for run in runs]) for q in ("p50", "p95", "p99")}
    return {**merged, "n": runs[0]["n"], "runs": len(runs)}


SIDES = ("api", "sql")
METHOD = (
    "repeats on the same warehouse, server and sampled patients; each repeat measures both "
    "sides, alternating which goes first (repeat 1 the API, repeat 2 the bare SQL, ...); each "
    "percentile quoted is the median over the repeats of that percentile; ratio = median API "
    "percentile / median bare SQL percentile (p95: median API p95 / median bare p95)"
)


def repeat_order(number: int) -> list[str]:
    """Which side runs first in repeat `number` (from 1): the API in odd repeats, the bare SQL
    in even ones, so neither side always runs on the other's warm caches (issue 11)."""
    return list(SIDES) if number % 2 else list(reversed(SIDES))


def summarise(runs: list[dict[str, dict[str, list[float]]]]) -> dict[str, Any]:
    """Per request kind: each side's percentiles per repeat, their medians over the repeats,
    and the ratio of the medians; each repeat's order."""
    result: dict[str, Any] = {
        "repeats": len(runs),
        "method": METHOD,
        "order_per_repeat": [list(run) for run in runs],
    }
    for kind in runs[0]["api"]:
        api_runs = [percentiles(run["api"][kind]) for run in runs]
        sql_runs = [percentiles(run["sql"][kind]) for run in runs]
        a, s = median_of_runs(api_runs), median_of_runs(sql_runs)
        result[kind] = {
            "api_ms": a,
            "sql_ms": s,
            "ratio": {q: round(a[q] / s[q], 2) if s[q] else None for q in ("p50", "p95", "p99")},
            "runs": {"api_ms": api_runs, "sql_ms": sql_runs},
        }
    return result


def run_backend(
    backend: str,
    dataset: Path,
    work: Path,
    requests: int,
    repeats: int = 3,
    home: Path | None = None,
) -> dict[str, Any]:
    from tests.support.machine import pg_url
    from tests.support.uvicorn_server import running_api
    from warehouse.settings import Settings

    warehouse = ""
    database = None
    if backend == "postgres":
        import psycopg

        database = f"healthlink_bench_{int(time.time())}"
        with psycopg.connect(pg_url("postgres"), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {database}")
        warehouse = pg_url(database)
    reused = home is not None and (home / ".built").exists()
    home = home or work / f"home-{backend}"
    try:
        started = time.perf_counter()
        if not reused:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "tests.support.build_warehouse",
                    str(home),
                    str(dataset),
                    warehouse,
                ],
                cwd=ROOT,
                check=True,
            )
            (home / ".built").touch()
        build_seconds = 0.0 if reused else time.perf_counter() - started
        settings = Settings(
            home=home,
            registry_dir=dataset / "registry",
            pseudonym_key=SecretStr(KEY),
            environment="test",
            warehouse=warehouse,
        )
        from warehouse.api import physicians
        from warehouse.api.gate import compile_gate
        from warehouse.storage.connection import connect
        from warehouse.storage.schema import setup_schema

        with connect(settings) as conn:
            setup_schema(conn)  # as `healthlink migrate` leaves a deployment (API tables too)
            hospital = conn.execute(
                "SELECT hospital_code FROM published.hospital_freshness "
                "WHERE NOT per_visit_consent ORDER BY 1 LIMIT 1"
            ).fetchone()[0]
            known = conn.execute(
                "SELECT count(*) FROM api.physician WHERE licence = ?", [LICENCE]
            ).fetchone()[0]
            if not known:  # a reused home has them from its first run
                with conn.transaction():
                    physicians.add_physician(conn, LICENCE, "นพ. ทดสอบ", PINCODE, [hospital])
            (patients,) = conn.execute("SELECT count(*) FROM published.patient").fetchone()
            rows = conn.execute(
                "SELECT patient_key, cid, first_name, last_name FROM published.patient "
                "WHERE length(first_name) >= 4 ORDER BY md5(patient_key) LIMIT ?",
                [requests],
            ).fetchall()
        if not rows:
            raise RuntimeError(f"{backend}: no visible patient to sample ({patients} visible)")
        sample = [(str(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]
        env = {
            **os.environ,
            "HEALTHLINK_HOME": str(home),
            "HEALTHLINK_WAREHOUSE": warehouse,
            "HEALTHLINK_REGISTRY_DIR": str(dataset / "registry"),
            "HEALTHLINK_PSEUDONYM_KEY": KEY,
            "HEALTHLINK_ENVIRONMENT": "test",
            "HEALTHLINK_AUDIT_KEY": "bench-audit-chain-key-not-for-production",
            # Counted on every request as in production, never reached: a quiet machine
            # serves more than the default 60 records a minute.
            "HEALTHLINK_API_SEARCH_PER_MINUTE": "1000000",
            "HEALTHLINK_API_PATIENT_PER_MINUTE": "1000000",
            "HEALTHLINK_API_ADDRESS_PER_MINUTE": "1000000",
        }
        # DuckDB: the per-visit gate as the API compiles it, for the bare record read.
        gate_sql = None if settings.uses_postgres else compile_gate(settings)
        started = time.perf_counter()
        # Start-up builds the name index from published.patient: minutes at 1M patients.
        with running_api(env, work / f"uvicorn-{backend}.log", startup_seconds=1800) as url:
            startup_seconds = time.perf_counter() - started
            runs = []
            for number in range(1, repeats + 1):
                measured: dict[str, dict[str, list[float]]] = {}
                for side in repeat_order(number):  # the same sample on both sides
                    measured[side] = (
                        measure_api(url, sample)
                        if side == "api"
                        else _bare_sql(settings, sample, hospital, gate_sql)
                    )
                runs.append(measured)
        return {
            "published_patients": patients,
            "warehouse_reused": reused,
            "build_seconds": round(build_seconds, 1),
            "api_startup_seconds": round(startup_seconds, 1),
            **summarise(runs),
        }
    finally:
        if database:
            import psycopg

            with psycopg.connect(pg_url("postgres"), autocommit=True) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def _bare_sql(
    settings: Any, sample: list[tuple[str, str, str, str]], hospital: str, gate_sql: str | None
) -> dict[str, list[float]]:
    """The same queries on a connection of the API's own role (PostgreSQL: RLS applies)."""
    if settings.uses_postgres:
        from warehouse.settings import url_for_role
        from warehouse.storage.pool import API_ROLE
        from warehouse.storage.postgres import PostgresConnection, open_postgres

        conn = PostgresConnection(open_postgres(url_for_role(settings.warehouse, API_ROLE)))
        try:
            return measure_sql(conn, sample, hospital, gate_sql)
        finally:
            conn.raw.close()
    from warehouse.storage.connection import connect

    with connect(settings) as duck:  # the server waits on the file lock meanwhile
        return measure_sql(duck, sample, hospital, gate_sql)


def _commit() -> str:
    """HEAD, marked dirty when dbt_project/ or bench/ differ from it (what this run measured)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    dirty = git("status", "--porcelain", "--", "dbt_project", "bench/api.py")
    return git("rev-parse", "--short", "HEAD") + ("-dirty" if dirty else "")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--visits-per-patient", type=float, default=0.3)
    parser.add_argument("--requests", type=int, default=300)
    # About 2 s a request at 1M patients on DuckDB (BENCHMARKS.md): 300 would take an hour.
    parser.add_argument("--duckdb-requests", type=int, default=40)
    parser.add_argument("--backend", choices=["both", "duckdb", "postgres"], default="both")
    # Measure N times on the same build, alternating which side goes first; each percentile
    # reported is the median of the N (issue 11: the median of three).
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench" / "data")
    # DuckDB: build the warehouse here once, reuse it on later runs (see the docstring).
    parser.add_argument("--home", type=Path, default=None)
    # Where the results file goes (a smoke run writes elsewhere than bench/results/).
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.home is not None and args.backend != "duckdb":
        parser.error("--home reuses a DuckDB warehouse: use it with --backend duckdb")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    random.seed(11)
    dataset = args.data_dir / f"api-{args.patients}-{args.visits_per_patient}"
    started = time.perf_counter()
    generate(dataset, args.patients, args.visits_per_patient)
    generate_seconds = time.perf_counter() - started
    backends = ["duckdb", "postgres"] if args.backend == "both" else [args.backend]
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "patients_generated": args.patients,
        "visits_per_patient": args.visits_per_patient,
        "requests": args.requests,
        "duckdb_requests": args.duckdb_requests,
        "repeats": args.repeats,
        "commit": _commit(),
        "generate_seconds": round(generate_seconds, 1),
        "cpus": os.cpu_count(),
        # The machine may be shared: 1/5/15-minute load averages before and after the runs.
        "load_average_start": [round(x, 2) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory(prefix="healthlink-bench-api-") as work:
        for backend in backends:
            requests = args.duckdb_requests if backend == "duckdb" else args.requests
            results[backend] = run_backend(
                backend, dataset, Path(work), requests, args.repeats, args.home
            )
            print(json.dumps({backend: results[backend]}, indent=1), flush=True)
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"api-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
