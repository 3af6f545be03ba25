"""The real DAG, end to end, with `airflow dags test` on the embedded DuckDB warehouse."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.support.airflow_harness import (
    dags_test,
    ensure_manifest,
    migrate,
)
from tests.support.dag_deployment import CATEGORIES, DAY_TWO, Deployment
from tests.support.machine import START


@pytest.fixture(scope="module")
def deployment(small_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    ensure_manifest()
    root = tmp_path_factory.mktemp("deployment")
    dataset = root / "dataset"
    shutil.copytree(small_dataset, dataset)
    deployment = Deployment(root, dataset)
    # OpenLineage to a file (the provider's file transport), read by the lineage test.
    deployment.env["AIRFLOW__OPENLINEAGE__TRANSPORT"] = json.dumps(
        {"type": "file", "log_file_path": str(root / "lineage.jsonl"), "append": True}
    )
    deployment.env["AIRFLOW__OPENLINEAGE__NAMESPACE"] = "healthlink-test"
    migrate(deployment.env)
    deployment.healthlink("consent", "import", str(dataset / "consent" / "registrations.csv"))
    deployment.run_day(START)
    return deployment


def test_first_day_publishes_every_category_from_every_hospital(deployment: Deployment) -> None:
    hospitals = {p.stem for p in (deployment.dataset / "registry" / "hospitals").glob("*.yml")}
    summary = deployment.query(
        "SELECT hospital_code, status, rows_read, rows_loaded, rows_rejected, rows_filtered "
        "FROM ops.run_summary WHERE extract_date = ?",
        [START],
    )
    assert {row[0] for row in summary} == hospitals
    assert {row[1] for row in summary} == {"loaded"}
    for _, _, read, loaded, rejected, filtered in summary:
        assert read == loaded + rejected + filtered
    for category in CATEGORIES:
        ((rows, sources),) = deployment.query(
            f"SELECT count(*), count(DISTINCT hospital_code) FROM published.{category}"
        )
        assert rows > 0 and sources == len(hospitals), category
    assert deployment.query("SELECT count(*) FROM ops.transform_pending") == [(0,)]


def test_the_run_records_its_ledger_and_dbt_tests(deployment: Deployment) -> None:
    """publish_and_summarize writes the day's ledger; cosmos's callback after the dbt task
    records the build's tests (ops.dbt_test_result)."""
    hospitals = {p.stem for p in (deployment.dataset / "registry" / "hospitals").glob("*.yml")}
    ledger = deployment.query(
        "SELECT hospital_code, status, lag_days, sla_breached FROM ops.hospital_day "
        "WHERE extract_date = ?",
        [START],
    )
    assert sorted(ledger) == [(code, "loaded", 0, False) for code in sorted(hospitals)]
    tests = deployment.query(
        "SELECT count(DISTINCT invocation_id), count(*), count(*) FILTER (WHERE status = 'pass')"
        " FROM ops.dbt_test_result"
    )
    ((invocations, recorded, passed),) = tests
    assert invocations >= 1 and recorded > 100 and passed == recorded


def test_the_first_day_emits_lineage_from_hospital_to_published(deployment: Deployment) -> None:
    """OpenLineage events of the first day's run (written by the file transport): each
    hospital's sync reads the hospital extracts and writes raw.*, and dbt reads those same
    raw tables and writes marts.* and published.*, so a catalogue links them end to end."""
    text = (deployment.root / "lineage.jsonl").read_text(encoding="utf-8")
    events = [json.loads(line) for line in text.splitlines() if line.strip()]
    completes = [e for e in events if e["eventType"] == "COMPLETE" and "job" in e]

    def datasets(event: dict, side: str) -> set[tuple[str, str]]:
        return {(d["namespace"], d["name"]) for d in event.get(side, [])}

    syncs = [e for e in completes if ".sync_part_" in e["job"]["name"]]
    hospitals = {p.stem for p in (deployment.dataset / "registry" / "hospitals").glob("*.yml")}
    assert len(syncs) == len(hospitals)
    raw_written = set.union(*(datasets(e, "outputs") for e in syncs))
    extracts = {("healthlink", "hospitals.hospital_extracts")}
    assert all(datasets(e, "inputs") == extracts for e in syncs)
    assert {name.split(".")[-2] for _, name in raw_written} == {"raw"}
    assert {name.split(".")[-1] for _, name in raw_written} >= set(CATEGORIES)

    (build,) = [e for e in completes if e["job"]["name"].endswith("dbt.build")]
    read, written = datasets(build, "inputs"), datasets(build, "outputs")
    assert raw_written & read, (sorted(raw_written)[:3], sorted(read)[:3])  # the same names
    written_schemas = {name.split(".")[-2] for _, name in written}
    assert {"staging", "marts", "published"} <= written_schemas, written_schemas
    for category in CATEGORIES:
        assert any(name.endswith(f"published.{category}") for _, name in written), category
    assert not re.search(r"(?<![0-9a-f])[0-9]{13}(?![0-9a-f])", text)  # no national ID


# Two more DAG runs (the slowest test of the suite): make test-long. make test keeps the same
# property through `healthlink backfill` run twice (tests/operations/test_backfill.py), which
# goes through the DAG's own hospital and publish steps.
@pytest.mark.slow
def test_rerunning_a_day_leaves_identical_checksums(deployment: Deployment) -> None:
    deployment.run_day(DAY_TWO)
    before = deployment.checksums()
    assert before["marts.fct_diagnosis"][0] > 0
    deployment.run_day(DAY_TWO)
    assert deployment.checksums() == before


def test_broken_hospital_is_quarantined_while_others_load(deployment: Deployment) -> None:
    hospitals = sorted(
        p.stem for p in (deployment.dataset / "registry" / "hospitals").glob("*.yml")
    )
    broken = hospitals[0]
    published_before = deployment.query(
        "SELECT count(*) FROM published.diagnosis WHERE hospital_code = ?", [broken]
    )
    service = deployment.dataset / "extracts" / broken / DAY_TWO.isoformat() / "SERVICE.txt"
    service.write_bytes(service.read_bytes().replace(b"|", b"\t"))

    deployment.run_day(DAY_TWO)  # a quarantine is not a failure: the DAG run succeeds

    statuses = dict(
        deployment.query(
            "SELECT hospital_code, status FROM ops.batch WHERE extract_date = ?", [DAY_TWO]
        )
    )
    assert statuses.pop(broken) == "quarantined"
    assert set(statuses.values()) == {"loaded"}
    ((reason_code, reason),) = deployment.query(
        "SELECT reason_code, reason FROM ops.quarantine WHERE hospital_code = ?", [broken]
    )
    assert reason_code == "wrong_delimiter" and "SERVICE" in reason
    assert (
        deployment.query(
            "SELECT count(*) FROM published.diagnosis WHERE hospital_code = ?", [broken]
        )
        == published_before
    )


def test_withdrawal_hides_rows_at_once(deployment: Deployment) -> None:
    from warehouse.consent.sender_choice import withdraw
    from warehouse.settings import Settings
    from warehouse.storage.connection import connect

    ((patient_key, rows),) = deployment.query(
        "SELECT patient_key, count(*) FROM published.diagnosis GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
    )
    assert rows > 0
    settings = Settings(home=deployment.root / "home", environment="test")
    with connect(settings) as conn:
        assert withdraw(conn, patient_key)
    for category in (*CATEGORIES, "patient"):
        assert deployment.query(
            f"SELECT count(*) FROM published.{category} WHERE patient_key = ?", [patient_key]
        ) == [(0,)], category


def test_a_failed_hospital_fails_the_run_after_the_others_publish(
    deployment: Deployment,
) -> None:
    """No false green: an unexpected error in one hospital's task (here its landing folder
    is a file) leaves the others loaded and published, and the DAG run ends `failed` in the
    metadata database (`airflow dags test` itself exits 0 for a failed run)."""
    hospitals = sorted(
        p.stem for p in (deployment.dataset / "registry" / "hospitals").glob("*.yml")
    )
    failing = hospitals[1]
    day_folder = (
        deployment.root
        / "home"
        / "landing"
        / f"hospital={failing}"
        / (f"extract_date={DAY_TWO.isoformat()}")
    )
    shutil.rmtree(day_folder, ignore_errors=True)
    day_folder.parent.mkdir(parents=True, exist_ok=True)
    day_folder.write_text("not a folder")

    result = dags_test(deployment.env, DAY_TWO.isoformat())

    assert deployment.last_run_state() == "failed", result.stdout[-3000:]
    statuses = dict(
        deployment.query(
            "SELECT hospital_code, status FROM ops.run_summary WHERE run_id = ("
            "  SELECT run_id FROM ops.run_summary WHERE extract_date = ?"
            "  ORDER BY recorded_at DESC LIMIT 1)",
            [DAY_TWO],
        )
    )
    assert statuses.pop(failing) == "failed"
    assert "loaded" in set(statuses.values())  # the others were published before the verdict
