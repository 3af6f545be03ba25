"""bench/national.py end to end at a tiny size: the day under the CeleryExecutor, the raw
limit on the same files, and a results file that says what ran.

Slow (several minutes: a whole Celery cluster and one DAG run): `make test-long` runs it. It
fails, never skips, when PostgreSQL or Redis does not answer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import national

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

HOSPITALS = 6


def test_a_small_national_day_is_measured(tmp_path: Path) -> None:
    out = tmp_path / "national.json"
    code = national.main(
        ["--hospitals", str(HOSPITALS), "--visits-target", "1500",
         "--data-dir", str(tmp_path / "data"), "--out", str(out)]
    )  # fmt: skip
    report = json.loads(out.read_text())
    day, summary, raw = report["day"], report["summary"], report["raw_limit"]
    assert code == 0 and summary["state"] == "success", day["task_states"]

    # every hospital ran as its own task, and the batches add up to what the files hold
    assert day["task_overhead"]["hospital_tasks"] == HOSPITALS
    assert day["batches"]["statuses"] == {"loaded": HOSPITALS}
    batches = day["batches"]
    assert batches["rows_read"] == (
        batches["rows_loaded"] + batches["rows_rejected"] + batches["rows_filtered"]
    )
    assert batches["rows_filtered"] == 0  # full consent: nothing dropped before validation
    # the raw side read the same files: every data line parsed or counted as malformed
    assert raw["rows"] + raw["rows_skipped_wrong_field_count"] == report["dataset"]["data_rows"]

    # the figures the report is for
    stages = day["stages"]
    assert {"prepare", "list_hospitals", "hospitals", "dbt", "publish", "judge"} <= set(stages)
    assert 0 < summary["share_of_raw_limit"] < 1
    assert summary["wall_seconds"] >= sum(s["span_seconds"] for s in stages.values()) * 0.5
    assert summary["peak_memory_mb"]["cluster_pss"] > 0
    assert summary["disk_bytes"]["warehouse_database"] > 0
    assert day["warehouse"]["published_rows"]["encounter"] > 0
