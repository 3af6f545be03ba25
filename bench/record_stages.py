"""Where one DuckDB patient-record request spends its time, stage by stage.

    .venv/bin/python -m bench.record_stages --home bench/data/home-duckdb-100000 \
        [--patients 60] [--rounds 3]

On a warehouse that `bench.api --home DIR` built (and that no other process holds), the app
is served in-process (Starlette's TestClient: the same middleware, session check, rate limit,
audit append and head export as under uvicorn) and each record request's warehouse
statements are timed by what they do (rate limit, session, patient header, consent, facts,
audit...). Printed: per stage the median and p95 over the requests of its time per request,
and the request's own time (the app's Server-Timing header). The patients are those
bench.api samples (the same first N by md5 of the key). Figures are wall-clock: compare
before and after in one run of a quiet machine, not across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.api import KEY, LICENCE, PINCODE, percentiles

# What a statement does, by the first pattern its SQL matches (order matters).
STAGES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern, re.IGNORECASE | re.DOTALL))
    for name, pattern in (
        ("rate_limit", r"api\.rate_limit|FROM api\.session WHERE token_hash"),
        ("session", r"api\.session|api\.physician"),
        ("physician_vars", r"^SET VARIABLE"),
        (
            "patient_header",
            r"published\.patient\b|marts\.dim_patient|marts\.bridge_patient_hospital",
        ),
        ("freshness", r"published\.hospital_freshness"),
        ("consent", r"int_consent__|intermediate\.|consent\."),
        ("facts", r"marts\.fct_"),
        ("audit", r"audit\."),
        ("transaction", r"^(BEGIN|COMMIT|ROLLBACK)"),
    )
)


def stage_of(sql: str) -> str:
    text = sql.strip()
    return next((name for name, pattern in STAGES if pattern.search(text)), "other")


class StatementClock:
    """Times every statement the app's DuckDB connections execute, per stage: wall-clock,
    and CPU of the whole process meanwhile (DuckDB's own threads included)."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)

    @contextmanager
    def installed(self) -> Iterator[None]:
        from warehouse.storage.connection import DuckDBConnection

        original = DuckDBConnection.execute
        clock = self

        def timed(self: DuckDBConnection, sql: str, params: Sequence[Any] | None = None) -> Any:
            started, cpu = time.perf_counter(), time.process_time()
            try:
                return original(self, sql, params)
            finally:
                stage = stage_of(sql)
                clock.current[stage] += (time.perf_counter() - started) * 1000
                clock.current[f"{stage} (cpu)"] += (time.process_time() - cpu) * 1000

        DuckDBConnection.execute = timed  # type: ignore[method-assign]
        try:
            yield
        finally:
            DuckDBConnection.execute = original  # type: ignore[method-assign]

    def take(self) -> dict[str, float]:
        taken, self.current = dict(self.current), defaultdict(float)
        return taken


def _environment(home: Path, registry: Path) -> None:
    os.environ.update(
        {
            "HEALTHLINK_HOME": str(home),
            "HEALTHLINK_WAREHOUSE": "",
            "HEALTHLINK_REGISTRY_DIR": str(registry),
            "HEALTHLINK_PSEUDONYM_KEY": KEY,
            "HEALTHLINK_ENVIRONMENT": "test",
            "HEALTHLINK_AUDIT_KEY": "bench-audit-chain-key-not-for-production",
            "HEALTHLINK_API_PATIENT_PER_MINUTE": "1000000",
            "HEALTHLINK_API_ADDRESS_PER_MINUTE": "1000000",
        }
    )


def sample_keys(home: Path, registry: Path, patients: int) -> list[str]:
    """bench.api's sample: visible patients with a first name of 4+ letters, by md5(key)."""
    from warehouse.settings import get_settings
    from warehouse.storage.connection import connect

    with connect(get_settings()) as conn:
        rows = conn.execute(
            "SELECT patient_key FROM published.patient "
            "WHERE length(first_name) >= 4 ORDER BY md5(patient_key) LIMIT ?",
            [patients],
        ).fetchall()
    return [str(r[0]) for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--patients", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=Path("bench/data/api-100000-0.3"))
    args = parser.parse_args()
    _environment(args.home.resolve(), (args.data_dir / "registry").resolve())
    from fastapi.testclient import TestClient

    from warehouse.api.main import create_app

    keys = sample_keys(args.home, args.data_dir / "registry", args.patients)
    clock = StatementClock()
    per_stage: dict[str, list[float]] = defaultdict(list)
    with TestClient(create_app()) as client, clock.installed():
        token = client.post("/auth/login", json={"licence": LICENCE, "pincode": PINCODE}).json()
        headers = {"Authorization": f"Bearer {token['token']}"}
        client.post(
            "/auth/terms", json={"accept": True, "terms_version": "2026-01"}, headers=headers
        )
        for key in keys[:3]:  # warm-up: plans, caches, the file's pages
            client.get(f"/patients/{key}/record", headers=headers)
        clock.take()
        for _ in range(args.rounds):
            for key in keys:
                cpu = time.process_time()
                response = client.get(f"/patients/{key}/record", headers=headers)
                assert response.status_code == 200, response.status_code
                stages = clock.take()
                stages["statements"] = sum(v for k, v in stages.items() if "cpu" not in k)
                stages["statements (cpu)"] = sum(v for k, v in stages.items() if "cpu" in k)
                stages["request"] = float(response.headers["server-timing"].split("dur=")[1])
                stages["request (cpu, client included)"] = (time.process_time() - cpu) * 1000
                for name, value in stages.items():
                    per_stage[name].append(value)
    requests = len(keys) * args.rounds
    report = {
        name: {q: v for q, v in percentiles(values + [0.0] * (requests - len(values))).items()}
        for name, values in sorted(per_stage.items())
    }
    print(json.dumps({"load_average": os.getloadavg(), "stages_ms": report}, indent=1))


if __name__ == "__main__":
    main()
