"""Connector read throughput: each source connector against a raw read of the same source.

    .venv/bin/python -m bench.connectors [--rows-target 250000] [--repeats 3] [--out DIR]

HOSxP: a synthetic HOSxP hospital (synthetic.hosxp, through tests/support/hosxp_database.py)
in the machine's MariaDB, `--rows-target` source rows over DAYS days, read for the window of
its last day with an overlap covering every day (so every row is in the window).
  raw:       the connector's own queries (the same joins, columns and window) run through a
             plain pymysql SSCursor, every row fetched as a tuple and dropped;
  connector: `HosxpConnector.read(...)`: the same queries through SSDictCursor, each row
             hashed into the batch id, mapped onto the contract, built into Arrow tables.
FHIR bulk: the Synthea sample (../shared/data/fhir-bulk-10) copied with Thai IDs
(synthetic.fhir_hospital.thai_export_copy) as many times as `--rows-target` resources need,
every copy's ids made distinct, as one export folder of the resource types the connector reads
(`<Type>.<copy>.ndjson`, no manifest).
  raw:       DuckDB `read_json(format='newline_delimited')` of every file into an in-memory
             table per resource type;
  connector: `FhirBulkConnector.read(...)`: every line parsed (orjson), latest version kept,
             mapped onto the contract, built into Arrow tables.

Each side runs --repeats times, alternating which side goes first; the figures are the medians,
the ratio is raw seconds / connector seconds (1.0: the connector reads at the raw limit).
The results land in <out>/connectors-<UTC>.json; the HOSxP database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench.ingest import _loadavg, _maxrss_mb

ROOT = Path(__file__).resolve().parent.parent
START = date(2026, 11, 14)
DAYS = 10  # the window: the last day with an overlap of DAYS - 1 (at most 31)
HOSPITAL = "10913"
# Measured on synthetic.hosxp (half the patients visit each day): the connector's queries return
# about 3.4 rows per patient and day; the patients are sized from it.
HOSXP_ROWS_PER_PATIENT_DAY = 3.4
_UUID_HEAD = re.compile(rb"\b[0-9a-f]{8}(?=-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b)")


def _median_runs(
    repeats: int, raw: Callable[[], dict[str, Any]], ours: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Both sides `repeats` times, alternating which goes first; medians and the ratio."""
    runs: list[dict[str, Any]] = []
    for repeat in range(repeats):
        order = [("raw", raw), ("connector", ours)]
        if repeat % 2:
            order.reverse()
        for side, measure in order:
            result = measure()
            runs.append({"repeat": repeat, "side": side, "first": side == order[0][0], **result})
    median = {}
    for side in ("raw", "connector"):
        mine = [run for run in runs if run["side"] == side]
        seconds = statistics.median(run["seconds"] for run in mine)
        rows = mine[0]["source_rows"]
        median[side] = {
            "seconds": round(seconds, 3),
            "source_rows": rows,
            "rows_per_second": round(rows / seconds),
        }
    return {
        "runs": runs,
        "median": median,
        "ratio": round(median["raw"]["seconds"] / median["connector"]["seconds"], 3),
    }


# ---------------------------------------------------------------- HOSxP


def _hosxp_raw(hospital: Any, window: Any) -> dict[str, Any]:
    import pymysql  # type: ignore[import-untyped]
    import pymysql.cursors  # type: ignore[import-untyped]

    from connectors.hosxp.connector import QUERIES
    from connectors.hosxp.credentials import load_credentials

    credentials = load_credentials(hospital.settings)
    params = {"start": window.start_local, "end": window.end_local}
    per_table: dict[str, int] = {}
    started = time.perf_counter()
    connection = pymysql.connect(
        host=credentials.host,
        port=credentials.port,
        user=credentials.user,
        password=credentials.password.get_secret_value(),
        database=hospital.database,
        charset="utf8mb4",
    )
    try:
        for query in QUERIES:
            with connection.cursor(pymysql.cursors.SSCursor) as cursor:
                cursor.execute(query.sql, params)
                per_table[query.table] = sum(1 for _ in cursor)
    finally:
        connection.close()
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "source_rows": sum(per_table.values()),
        "rows_by_table": per_table,
    }


def _timed_read(connector: Any, extract_date: date) -> dict[str, Any]:
    """The connector's own read of the day, into canonical Arrow tables."""
    started = time.perf_counter()
    extract = connector.read(HOSPITAL, None, extract_date)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "canonical_rows": {e: t.num_rows for e, t in extract.tables.items()},
        "rejected": len(extract.rejected),
    }


def bench_hosxp(rows_target: int, repeats: int, work: Path) -> dict[str, Any]:
    from tests.support.hosxp_database import hosxp_hospital

    patients = max(10, math.ceil(rows_target / (HOSXP_ROWS_PER_PATIENT_DAY * DAYS)))
    extract_date = START + timedelta(days=DAYS - 1)
    started = time.perf_counter()
    with hosxp_hospital(
        work, START, days=DAYS, patients=patients, prefix="hlbench_conn"
    ) as hospital:
        build_seconds = time.perf_counter() - started
        window = hospital.connector(overlap_days=DAYS - 1).window(extract_date)
        stored = sum(len(rows) for rows in hospital.world.rows.values())

        # a first raw read warms the server's buffer pool for both sides
        raw_rows = _hosxp_raw(hospital, window)["source_rows"]

        def ours() -> dict[str, Any]:
            connector = hospital.connector(overlap_days=DAYS - 1)
            return {**_timed_read(connector, extract_date), "source_rows": raw_rows}

        measured = _median_runs(repeats, lambda: _hosxp_raw(hospital, window), ours)
    return {
        "source": {
            "database": hospital.database,
            "patients": patients,
            "days": DAYS,
            "window": window.describe(),
            "rows_stored": stored,
            "rows_in_window": raw_rows,
            "build_seconds": round(build_seconds, 2),
        },
        **measured,
    }


# ---------------------------------------------------------------- FHIR bulk


def build_fhir_export(folder: Path, rows_target: int, scratch: Path) -> dict[str, Any]:
    """The Synthea sample with Thai IDs, copied until `rows_target` resources of the types
    the connector reads: copy k as `<Type>.<k>.ndjson`, every UUID's first 8 digits `k`."""
    from connectors.fhir_bulk.connector import WANTED
    from synthetic.fhir_hospital import FHIR_SAMPLE, thai_export_copy

    folder.mkdir(parents=True, exist_ok=True)
    wanted = [p for p in sorted(FHIR_SAMPLE.glob("*.ndjson")) if p.name.split(".", 1)[0] in WANTED]
    per_copy = sum(len(p.read_bytes().splitlines()) for p in wanted)
    copies = max(1, math.ceil(rows_target / per_copy))
    for k in range(copies):
        copy = scratch / f"copy-{k}"
        thai_export_copy(FHIR_SAMPLE, copy, seed=13 + k)  # each copy its own national IDs
        head = f"{k:08x}".encode()
        for path in wanted:
            text = (copy / path.name).read_bytes()
            kind = path.name.split(".", 1)[0]
            (folder / f"{kind}.{k:03d}.ndjson").write_bytes(_UUID_HEAD.sub(head, text))
            (copy / path.name).unlink()
    files = sorted(folder.glob("*.ndjson"))
    return {
        "copies": copies,
        "resources": per_copy * copies,
        "files": len(files),
        "bytes": sum(p.stat().st_size for p in files),
    }


def _fhir_raw(folder: Path) -> dict[str, Any]:
    import duckdb

    by_type: dict[str, list[str]] = {}
    for path in sorted(folder.glob("*.ndjson")):
        by_type.setdefault(path.name.split(".", 1)[0], []).append(str(path))
    rows: dict[str, int] = {}
    started = time.perf_counter()
    conn = duckdb.connect()
    for kind, paths in by_type.items():
        conn.execute(
            f"CREATE TABLE {kind.lower()} AS SELECT * FROM read_json(?, "
            "format = 'newline_delimited', union_by_name = true)",
            [paths],
        )
        counted = conn.execute(f"SELECT count(*) FROM {kind.lower()}").fetchone()
        rows[kind] = int(counted[0]) if counted else 0
    conn.close()
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 3), "source_rows": sum(rows.values()), "rows_by_type": rows}


def _fhir_connector(root: Path, extract_date: date) -> dict[str, Any]:
    from connectors.registry import build_connector
    from synthetic.fhir_hospital import SAMPLE_CODE_SYSTEMS, THAI_ID_SYSTEM

    connector = build_connector(
        {
            "kind": "fhir_bulk",
            "path": str(root),
            "national_id_system": THAI_ID_SYSTEM,
            "code_systems": SAMPLE_CODE_SYSTEMS,
        }
    )
    return _timed_read(connector, extract_date)


def bench_fhir(rows_target: int, repeats: int, work: Path) -> dict[str, Any]:
    root = work / "fhir"
    started = time.perf_counter()
    export = build_fhir_export(root / START.isoformat(), rows_target, work / "scratch")
    export["build_seconds"] = round(time.perf_counter() - started, 2)

    def ours() -> dict[str, Any]:
        return {**_fhir_connector(root, START), "source_rows": export["resources"]}

    measured = _median_runs(repeats, lambda: _fhir_raw(root / START.isoformat()), ours)
    return {"source": export, **measured}


# ---------------------------------------------------------------- the report


def _git(*args: str) -> str:
    found = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return found.stdout.rstrip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows-target", type=int, default=250_000, help="source rows per side")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--only", choices=("hosxp", "fhir_bulk"), default=None)
    args = parser.parse_args(argv)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report: dict[str, Any] = {
        "benchmark": "connectors",
        "started_at": stamp,
        "command": "python -m bench.connectors "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "parameters": {"rows_target": args.rows_target, "repeats": args.repeats},
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "git_commit": _git("rev-parse", "HEAD"),
        # what was measured: the working tree, which may differ from the commit here
        "uncommitted_connector_files": _git(
            "status", "--porcelain", "--", "connectors"
        ).splitlines(),
        "load_average_before": _loadavg(),
        "connectors": {},
    }
    with tempfile.TemporaryDirectory(prefix="hl-bench-connectors-") as tmp:
        work = Path(tmp)
        if args.only in (None, "hosxp"):
            report["connectors"]["hosxp"] = bench_hosxp(args.rows_target, args.repeats, work)
            print(_line("hosxp", report["connectors"]["hosxp"]), flush=True)
        if args.only in (None, "fhir_bulk"):
            report["connectors"]["fhir_bulk"] = bench_fhir(args.rows_target, args.repeats, work)
            print(_line("fhir_bulk", report["connectors"]["fhir_bulk"]), flush=True)
    report["load_average_after"] = _loadavg()
    report["peak_rss_mb"] = _maxrss_mb()
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"connectors-{stamp}.json"
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"wrote {path}")
    return 0


def _line(name: str, result: dict[str, Any]) -> str:
    raw, ours = result["median"]["raw"], result["median"]["connector"]
    return (
        f"{name}: {raw['source_rows']} rows; raw {raw['seconds']} s ({raw['rows_per_second']}"
        f" rows/s), connector {ours['seconds']} s ({ours['rows_per_second']} rows/s), "
        f"ratio {result['ratio']}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
