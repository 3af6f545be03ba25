"""bench/api.py, so the script cannot rot: both sides of each ratio (the API through uvicorn,
the bare SQL on a connection of the API's role) run over the same patients in every repeat,
alternating which goes first, and the figures quoted are the medians of the repeats' own
percentiles, the ratio median API / median bare SQL (issue 11).

The summary on hand-made timings is quick; the tiny end-to-end run (a DuckDB warehouse built
through the real pipeline, then uvicorn) takes minutes: slow, `make test-long` runs it.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from bench import api

KINDS = ("search_id", "search_name", "record")


def _side(base: float) -> dict[str, list[float]]:
    """One side's timings of a repeat: ten requests of each kind, base .. base + 9 ms."""
    return {kind: [base + i for i in range(10)] for kind in KINDS}


def test_the_order_alternates_from_the_api_first() -> None:
    assert [api.repeat_order(n) for n in (1, 2, 3, 4)] == [
        ["api", "sql"],
        ["sql", "api"],
        ["api", "sql"],
        ["sql", "api"],
    ]


def test_the_summary_is_the_median_of_the_repeats_and_the_ratio_of_the_medians() -> None:
    runs = [
        {"api": _side(10), "sql": _side(2)},
        {"sql": _side(6), "api": _side(40)},
        {"api": _side(20), "sql": _side(4)},
    ]
    summary = api.summarise(runs)
    assert summary["repeats"] == 3
    assert summary["order_per_repeat"] == [["api", "sql"], ["sql", "api"], ["api", "sql"]]
    record = summary["record"]
    # p95 of each repeat: base + 9; medians over the repeats: API 29, bare SQL 13
    assert [r["p95"] for r in record["runs"]["api_ms"]] == [19, 49, 29]
    assert [r["p95"] for r in record["runs"]["sql_ms"]] == [11, 15, 13]
    assert record["api_ms"]["p95"] == 29 and record["sql_ms"]["p95"] == 13
    assert record["ratio"]["p95"] == round(29 / 13, 2)
    assert "median API p95 / median bare p95" in summary["method"]


def test_the_command_measures_three_times_by_default() -> None:
    """`make bench` runs `python -m bench.api` without arguments: issue 11's median of three."""
    assert api.build_parser().parse_args([]).repeats == 3


@pytest.mark.slow
def test_a_tiny_duckdb_run_alternates_the_sides_over_the_same_patients(tmp_path: Path) -> None:
    requests = 4
    out = tmp_path / "results"
    code = api.main(
        [
            "--patients", "300",
            "--backend", "duckdb",
            "--duckdb-requests", str(requests),
            "--repeats", "3",
            "--data-dir", str(tmp_path / "data"),
            "--home", str(tmp_path / "home"),
            "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    (path,) = out.glob("api-*.json")
    result = json.loads(path.read_text())["duckdb"]
    assert result["order_per_repeat"] == [["api", "sql"], ["sql", "api"], ["api", "sql"]]
    for kind in KINDS:
        figures = result[kind]
        runs = figures["runs"]
        # every repeat both sides, each over the whole sample
        assert [r["n"] for r in runs["api_ms"]] == [r["n"] for r in runs["sql_ms"]] == [4] * 3
        for side in ("api_ms", "sql_ms"):
            for q in ("p50", "p95", "p99"):
                assert figures[side][q] == statistics.median(r[q] for r in runs[side])
        api_p95, sql_p95 = figures["api_ms"]["p95"], figures["sql_ms"]["p95"]
        assert figures["ratio"]["p95"] == round(api_p95 / sql_p95, 2)
