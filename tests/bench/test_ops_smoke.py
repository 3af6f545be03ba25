"""bench/ops.py at a tiny size on both warehouses, so the script cannot rot: every round runs
the bare scan and the report queries, alternating which goes first, and the figures
BENCHMARKS.md quotes are the medians of the rounds' own (issue 11).

Slow-ish (dbt builds the coverage mart on each backend, about 40 s): `make test-long` runs it.
It fails, never skips, when PostgreSQL does not answer.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from bench import ops

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROUNDS = 3


def test_a_tiny_ops_run_alternates_the_bare_scan_and_the_report(tmp_path: Path) -> None:
    out = tmp_path / "results"
    code = ops.main(
        [
            "--hospitals", "20",
            "--days", "3",
            "--repeats", str(ROUNDS),
            "--backend", "both",
            "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    (path,) = out.glob("ops-*.json")
    report = json.loads(path.read_text())
    assert [r["backend"] for r in report["results"]] == ["duckdb", "postgres"]
    for result in report["results"]:
        rounds = result["rounds"]
        # round 1 the report queries first, round 2 the bare scan, round 3 the report again
        assert [r["order"] for r in rounds] == [
            ["report_queries", "bare_scan"],
            ["bare_scan", "report_queries"],
            ["report_queries", "bare_scan"],
        ]
        # every query ran in every round, and the figure quoted is the median of the rounds'
        for name in ("report_all_hospitals_s", "bare_scan_of_the_window_s", "ledger_version_s"):
            per_round = [r["seconds"][name] for r in rounds]
            assert all(s > 0 for s in per_round)
            assert result[name] == pytest.approx(statistics.median(per_round), abs=1e-4)
        per_round_ratio = [
            r["seconds"]["report_all_hospitals_s"] / r["seconds"]["bare_scan_of_the_window_s"]
            for r in rounds
        ]
        assert result["report_vs_bare_scan_per_round"] == pytest.approx(per_round_ratio, rel=0.02)
        # the ratio: median report / median bare scan (not a median of the rounds' ratios)
        report_s, bare_s = (
            statistics.median(r["seconds"][name] for r in rounds)
            for name in ("report_all_hospitals_s", "bare_scan_of_the_window_s")
        )
        assert result["report_vs_bare_scan"] == pytest.approx(report_s / bare_s, rel=0.02)
        assert "median report" in result["method"]
