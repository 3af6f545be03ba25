"""bench/ingest.py at a tiny size with two rounds, so the script cannot rot: both sides of
each ratio run in every round, alternating which goes first, and the results file holds each
round's figures beside the medians BENCHMARKS.md quotes.

Slow (two rounds of sync_batch and dbt build, the per-batch fixed cost): `make test-long`
runs it. It fails, never skips, when PostgreSQL does not answer.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from bench import ingest
from tests.support.machine import pg_url

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

REPEATS = 2


def test_a_tiny_ingest_run_alternates_the_sides_and_reports_each_round(tmp_path: Path) -> None:
    out = tmp_path / "results"
    code = ingest.main(
        [
            "--rows-target", "3000",
            "--hospitals", "3",
            "--repeats", str(REPEATS),
            "--postgres", pg_url("postgres"),
            "--data-dir", str(tmp_path / "data"),
            "--out", str(out),
            "--no-markdown",
        ]
    )  # fmt: skip
    report = json.loads((out / "latest.json").read_text())
    rounds = report["rounds"]
    assert code == 0 and report["dbt"]["error"] is None
    assert report["parameters"]["repeats"] == REPEATS and len(rounds) == REPEATS

    # round 1 the raw limit first, round 2 our pipeline first; PostgreSQL likewise
    assert [r["order"] for r in rounds] == [["raw_limit", "pipeline"], ["pipeline", "raw_limit"]]
    assert [r["postgres_load"]["order"] for r in rounds] == [["plain", "ours"], ["ours", "plain"]]

    # each round a fresh home: the same work every time, and the figures are its medians
    assert report["counts_same_every_round"]
    assert all(r["pipeline"]["rows_loaded"] > 0 for r in rounds)
    raw_seconds = [r["raw_limit"]["seconds"] for r in rounds]
    our_seconds = [r["pipeline"]["sync_wall_seconds"] for r in rounds]
    assert report["raw_limit"]["seconds"] == round(statistics.median(raw_seconds), 3)
    assert report["pipeline"]["end_to_end_seconds"] == round(statistics.median(our_seconds), 3)
    ratio = report["ratio"]
    assert ratio["share_of_raw_limit"] == round(
        report["raw_limit"]["seconds"] / report["pipeline"]["end_to_end_seconds"], 4
    )
    assert ratio["share_of_raw_limit_per_round"] == [
        round(raw / ours, 4) for raw, ours in zip(raw_seconds, our_seconds, strict=True)
    ]
    assert len(report["dbt"]["seconds_per_round"]) == REPEATS
    postgres = report["postgres_load"]
    assert len(postgres["share_of_plain_ingest_per_round"]) == REPEATS
    assert postgres["plain_adbc_ingest_seconds"] == round(
        statistics.median(r["postgres_load"]["plain_adbc_ingest_seconds"] for r in rounds), 3
    )
    assert [m["round"] for m in report["memory"]["rounds"]] == [1, 2]

    # the markdown it would write says how the figures were taken
    markdown = tmp_path / "BENCHMARKS.md"
    ingest.write_benchmarks_md(report, markdown)
    text = markdown.read_text()
    assert "median" in text and "alternating which goes first" in text
