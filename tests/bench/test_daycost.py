"""bench/daycost.py at a tiny size on both warehouses, so the script cannot rot: the states
are built, copied and measured, and the report holds what BENCHMARKS.md quotes."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from bench import daycost
from tests.support.machine import pg_url

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_a_tiny_day_cost_run_on_both_warehouses(tmp_path: Path) -> None:
    out = tmp_path / "results"
    code = daycost.main(
        [
            "--hospitals", "2",
            "--history-days", "1",
            "--patients", "300",
            "--repeats", "1",
            "--history-dbt", "once",
            "--postgres", pg_url("postgres"),
            "--data-dir", str(tmp_path / "data"),
            "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    (path,) = out.glob("daycost-*.json")
    report = json.loads(path.read_text())
    assert set(report["backends"]) == {"duckdb", "postgres"}
    for result in report["backends"].values():
        (history_day,) = result["history_build"]["days"]
        assert history_day["rows_loaded"] > 0 and history_day["dbt_seconds"] > 0
        sides = {run["side"]: run for run in result["runs"]}
        assert set(sides) == {"history", "empty"}
        # the same extract day, loaded under the same consent state on both sides
        assert sides["history"]["rows_loaded"] == sides["empty"]["rows_loaded"] > 0
        assert all(run["statuses"] == {"loaded": 2} for run in result["runs"])
        medians = result["median"]
        assert result["ratio"] == pytest.approx(
            medians["history"]["total_seconds"] / medians["empty"]["total_seconds"], abs=1e-3
        )
    # every state was a throwaway: nothing left behind
    assert not list((tmp_path / "data").glob("daycost-run-*"))
    stamp = path.stem.removeprefix("daycost-").lower()
    with psycopg.connect(pg_url("postgres")) as admin:
        left = admin.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            [f"healthlink_daycost_{stamp}_%"],
        ).fetchall()
    assert left == []
