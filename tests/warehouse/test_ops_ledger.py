"""Operations' ledger (ops.hospital_day), data-quality history and `healthlink ops report`.

One scenario per warehouse, run by the pipeline's own steps on the small dataset (4
hospitals), the PostgreSQL one as healthlink_loader (dbt as the transformer) and read by
`healthlink ops report` as healthlink_ops, as in production:
  day 1  the whole daily run (dbt build included): every hospital loaded, one of them with
         diagnosis codes the ICD-10-TM seed does not hold;
  day 2  A loaded, B quarantined (a file missing), C missing (no extract folder), D failed;
  day 3  nobody sent anything (all missing), B promises its data within 1 day;
then day 2 re-run with C's extract back (a backfill), which must move day 3's freshness.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.cli_warehouse import CliWarehouse, cli_for
from tests.support.machine import START, TEST_KEY, throwaway_pg_database
from tests.support.warehouse_batches import prepare
from warehouse.pipeline.batch import record_failure
from warehouse.pipeline.daily_run import finish_run, prepare_run, sync_hospital
from warehouse.pipeline.transform import record_project_test_results
from warehouse.settings import LOADER_ROLE, Settings, url_for_role
from warehouse.storage.connection import connect
from warehouse.storage.schema import setup_warehouse

DAY1, DAY2, DAY3 = START, START + timedelta(days=1), START + timedelta(days=2)
UNMAPPED_ICD10 = "U999"  # well formed, not in dbt_project/reference_codes/icd10_tm.csv
OPS_ROLE = "healthlink_ops"
LEDGER_COLUMNS = (
    "hospital_code, extract_date, expected, arrived, status, reason_code, rows_read, "
    "rows_loaded, rows_rejected, rows_filtered, data_as_of, freshness_sla_days, lag_days, "
    "sla_breached"
)


@dataclass(frozen=True)
class Scenario:
    kind: str
    owner: Settings  # who set the warehouse up, reads what the tests check
    settings: Settings  # as the pipeline runs (PostgreSQL: healthlink_loader)
    report_cli: CliWarehouse  # `healthlink ops report` as it reads (PostgreSQL: healthlink_ops)
    registry_dir: Path
    original_extracts: Path  # the dataset as generated
    codes: tuple[str, str, str, str]  # A loaded, B quarantined, C missing, D failed on day 2
    unmapped_rows: int

    def ledger(self, day: date) -> dict[str, dict[str, Any]]:
        with connect(self.settings) as conn:
            cursor = conn.execute(
                f"SELECT {LEDGER_COLUMNS} FROM ops.hospital_day WHERE extract_date = ?", [day]
            )
            names = [d[0] for d in cursor.description]
            return {row[0]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}

    def report(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.report_cli.run("ops", "report", *args)


def _break_codes(extract: Path) -> int:
    """Rewrite some principal diagnoses to a code no seed holds; returns how many rows."""
    path = extract / "DIAGNOSIS_OPD.txt"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    changed = 0
    for i, line in enumerate(lines[1:40], start=1):  # the header line stays
        fields = line.split("|")
        fields[5] = UNMAPPED_ICD10
        lines[i] = "|".join(fields)
        changed += 1
    path.write_text("".join(lines), encoding="utf-8")
    return changed


def _run_day(
    settings: Settings, registry_dir: Path, day: date, codes: list[str], failed: str = ""
) -> None:
    """The daily run's steps without dbt (publish, run summary and ledger run all the same);
    `failed`: a hospital whose task meets an unexpected error, recorded as the task does."""
    run_id = f"test-{day.isoformat()}"
    participating = prepare_run(day, registry_dir, settings)
    for code in codes:
        assert code in participating
        sync_hospital(code, day, run_id, registry_dir, settings)
    if failed:
        record_failure(failed, day, run_id, RuntimeError("an outage"), settings)
    finish_run(run_id, day, settings, registry_dir)


def _scenario(kind: str, root: Path, small_dataset: Path, url: str) -> Scenario:
    dataset = root / "dataset"
    shutil.copytree(small_dataset, dataset)
    registry_dir = dataset / "registry"
    codes = tuple(sorted(p.stem for p in (registry_dir / "hospitals").glob("*.yml")))
    assert len(codes) == 4
    a, b, c, d = codes
    owner = Settings(
        home=root / "home",
        registry_dir=registry_dir,
        pseudonym_key=TEST_KEY,  # type: ignore[arg-type]
        environment="test",
        warehouse=url,
    )
    setup_warehouse(owner)  # as `healthlink migrate` leaves a deployment
    prepare(owner, dataset)
    settings = owner.model_copy(update={"warehouse": url_for_role(url, LOADER_ROLE) if url else ""})
    extracts = dataset / "extracts"
    # A header line, UTF-8: the rewritten file stays readable.
    utf8_with_header = next(
        code
        for code in codes
        if "encoding: utf-8" in (registry_dir / "hospitals" / f"{code}.yml").read_text()
        and "header: true" in (registry_dir / "hospitals" / f"{code}.yml").read_text()
    )
    unmapped = _break_codes(extracts / utf8_with_header / DAY1.isoformat())
    # Day 1 is the whole daily run, the real command (dbt build included).
    # (in a child process: dbt-duckdb keeps the file open in the process that ran it)
    done = cli_for(kind, settings).run("sync", "--date", str(DAY1))
    assert done.returncode == 0, done.stderr[-3000:]

    (extracts / b / DAY2.isoformat() / "EPI.txt").unlink()
    shutil.rmtree(extracts / c / DAY2.isoformat())
    _run_day(settings, registry_dir, DAY2, [a, b, c], failed=d)

    promise = registry_dir / "hospitals" / f"{b}.yml"
    data = yaml.safe_load(promise.read_text(encoding="utf-8"))
    promise.write_text(yaml.safe_dump({**data, "freshness_sla_days": 1}), encoding="utf-8")
    _run_day(settings, registry_dir, DAY3, list(codes))
    return Scenario(
        kind=kind,
        owner=owner,
        settings=settings,
        report_cli=cli_for(
            kind,
            settings.model_copy(update={"warehouse": url_for_role(url, OPS_ROLE) if url else ""}),
        ),
        registry_dir=registry_dir,
        original_extracts=small_dataset / "extracts",
        codes=(a, b, c, d),
        unmapped_rows=unmapped,
    )


@pytest.fixture(
    scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def scenario(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    small_dataset: Path,
) -> Iterator[Scenario]:
    root = tmp_path_factory.mktemp(f"ops_ledger_{request.param}")
    if request.param == "duckdb":
        yield _scenario("duckdb", root, small_dataset, "")
        return
    with throwaway_pg_database("healthlink_ops_ledger") as url:
        yield _scenario("postgres", root, small_dataset, url)


def test_ledger_of_a_day_with_every_outcome(scenario: Scenario) -> None:
    a, b, c, d = scenario.codes
    day1, day2 = scenario.ledger(DAY1), scenario.ledger(DAY2)
    assert {row["status"] for row in day1.values()} == {"loaded"}
    assert all(row["lag_days"] == 0 and row["data_as_of"] == DAY1 for row in day1.values())
    assert set(day2) == {a, b, c, d}  # the missing hospital has its row
    assert [day2[code]["status"] for code in (a, b, c, d)] == [
        "loaded",
        "quarantined",
        "missing",
        "failed",
    ]
    assert [day2[code]["arrived"] for code in (a, b, c, d)] == [True, True, False, True]
    assert all(row["expected"] for row in day2.values())
    assert day2[b]["reason_code"] == "missing_file"
    assert day2[d]["reason_code"] == "unexpected_error"
    # Accounting carried over from the batch: read = loaded + rejected + filtered.
    row = day1[a]
    assert row["rows_read"] == row["rows_loaded"] + row["rows_rejected"] + row["rows_filtered"]
    assert row["rows_read"] > 0
    # Freshness: A loaded day 2; B, C and D still have day 1's data.
    assert day2[a]["data_as_of"] == DAY2 and day2[a]["lag_days"] == 0
    assert {day2[code]["data_as_of"] for code in (b, c, d)} == {DAY1}
    assert {day2[code]["lag_days"] for code in (b, c, d)} == {1}


def test_lag_against_each_hospitals_promise(scenario: Scenario) -> None:
    a, b, _, d = scenario.codes
    day3 = scenario.ledger(DAY3)
    assert {row["status"] for row in day3.values()} == {"missing"}
    assert not any(row["arrived"] for row in day3.values())
    assert day3[b]["freshness_sla_days"] == 1 and day3[a]["freshness_sla_days"] == 4
    assert day3[a]["lag_days"] == 1 and not day3[a]["sla_breached"]
    assert day3[b]["lag_days"] == 2 and day3[b]["sla_breached"]  # 2 days > its promise of 1
    assert day3[d]["lag_days"] == 2 and not day3[d]["sla_breached"]  # within the default 4


def test_dq_history_is_one_select(scenario: Scenario) -> None:
    with connect(scenario.settings) as conn:
        trend = conn.execute(
            "SELECT extract_date, entity, rows_read, rows_rejected, reject_rate "
            "FROM ops.dq_entity_day WHERE hospital_code = ? AND extract_date >= ? "
            "ORDER BY extract_date, entity",
            [scenario.codes[0], DAY3 - timedelta(days=30)],
        ).fetchall()
        counted = conn.execute(
            "SELECT entity, rows_read, rows_rejected FROM ops.batch_entity "
            "WHERE hospital_code = ? AND extract_date = ? ORDER BY entity",
            [scenario.codes[0], DAY1],
        ).fetchall()
        by_rule = conn.execute(
            "SELECT r.entity, sum(r.rejects), max(e.rows_rejected) FROM ops.dq_reject_rule AS r "
            "JOIN ops.batch_entity AS e USING (hospital_code, extract_date, entity) "
            "GROUP BY r.entity"
        ).fetchall()
    assert {day for day, *_ in trend} == {DAY1, DAY2}
    day1 = [(e, read, rejected) for day, e, read, rejected, _ in trend if day == DAY1]
    assert day1 == [tuple(row) for row in counted]
    for _day, _entity, read, rejected, rate in trend:
        assert rate == (pytest.approx(rejected / read) if read else None)
    assert any(rejected for *_, rejected, _ in trend)  # the dataset has rejects
    assert by_rule and all(rejects >= rejected > 0 for _, rejects, rejected in by_rule)


def test_unmapped_codes_are_counted_not_dropped(scenario: Scenario) -> None:
    with connect(scenario.owner) as conn:
        counts = conn.execute(
            "SELECT code_system, sum(coded_rows), sum(unmapped_rows), "
            "sum(distinct_unmapped_codes) FROM marts.rpt_unmapped_codes "
            "WHERE extract_date = ? GROUP BY code_system ORDER BY code_system",
            [DAY1],
        ).fetchall()
        kept = conn.execute(
            "SELECT count(*) FROM raw.diagnosis WHERE extract_date = ? AND icd10_code = ?",
            [DAY1, UNMAPPED_ICD10],
        ).fetchone()
        raw = conn.execute(
            "SELECT count(*) FROM raw.diagnosis WHERE extract_date = ? AND icd10_code IS NOT NULL",
            [DAY1],
        ).fetchone()
    systems = {system: (coded, unmapped, distinct) for system, coded, unmapped, distinct in counts}
    assert set(systems) >= {"icd10", "drug_24_digit", "moph_lab"}
    assert raw is not None and systems["icd10"][0] == raw[0]
    # Every rewritten row is counted (consent may have filtered some before loading).
    assert kept is not None and 0 < kept[0] <= scenario.unmapped_rows
    assert systems["icd10"][1:] == (kept[0], 1)
    assert systems["drug_24_digit"][1] == 0 and systems["moph_lab"][1] == 0


def test_dbt_test_results_of_the_build(scenario: Scenario) -> None:
    with connect(scenario.settings) as conn:
        rows = conn.execute(
            "SELECT invocation_id, unique_id, status, failures, execution_time_s "
            "FROM ops.dbt_test_result"
        ).fetchall()
    assert len({row[0] for row in rows}) == 1  # one build: day 1's
    ids = {row[1] for row in rows}
    assert all(unique_id.startswith("test.healthlink.") for unique_id in ids)
    assert any("rpt_unmapped_codes" in unique_id for unique_id in ids)
    assert {row[2] for row in rows} == {"pass"} and {row[3] for row in rows} == {0}
    assert len(rows) > 100 and all(row[4] >= 0 for row in rows)


def test_failed_tests_of_a_dag_task_are_recorded(scenario: Scenario, tmp_path: Path) -> None:
    """cosmos's callback reads the task's project copy: failures counted, models skipped,
    idempotent per invocation."""
    target = tmp_path / "target"
    target.mkdir()
    results = {
        "metadata": {"invocation_id": "inv-failing", "generated_at": "2026-12-06T01:02:03.5Z"},
        "results": [
            {
                "unique_id": "test.healthlink.t_fails",
                "status": "fail",
                "failures": 3,
                "execution_time": 0.2,
            },
            {
                "unique_id": "model.healthlink.m",
                "status": "success",
                "failures": None,
                "execution_time": 1.0,
            },
        ],
    }
    (target / "run_results.json").write_text(json.dumps(results), encoding="utf-8")
    with connect(scenario.settings) as conn:
        before = conn.execute("SELECT count(*) FROM ops.dbt_test_result").fetchone()
    assert record_project_test_results(str(tmp_path), scenario.settings, context={}) == 1
    assert record_project_test_results(str(tmp_path), scenario.settings, context={}) == 1
    with connect(scenario.settings) as conn:
        rows = conn.execute(
            "SELECT unique_id, status, failures, generated_at FROM ops.dbt_test_result "
            "WHERE invocation_id = 'inv-failing'"
        ).fetchall()
        after = conn.execute("SELECT count(*) FROM ops.dbt_test_result").fetchone()
        conn.execute("DELETE FROM ops.dbt_test_result WHERE invocation_id = 'inv-failing'")
    assert [tuple(row[:3]) for row in rows] == [("test.healthlink.t_fails", "fail", 3)]
    assert rows[0][3] == datetime(2026, 12, 6, 1, 2, 3, 500000)
    assert before is not None and after is not None and after[0] == before[0] + 1


def test_report_as_table_and_json(scenario: Scenario) -> None:
    _, b, _, d = scenario.codes
    done = scenario.report("--days", "30", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["first"], report["last"]) == (
        (DAY3 - timedelta(days=29)).isoformat(),
        DAY3.isoformat(),
    )
    daily = {row["extract_date"]: row for row in report["daily"]}
    assert [daily[DAY2.isoformat()][k] for k in ("loaded", "quarantined", "missing", "failed")] == [
        1,
        1,
        1,
        1,
    ]
    assert daily[DAY3.isoformat()]["sla_breached"] == 1
    hospitals = {row["hospital_code"]: row for row in report["hospitals"]}
    assert hospitals[b]["days_quarantined"] == 1 and hospitals[d]["days_failed"] == 1
    assert report["reject_rates"] and report["top_rules"]

    done = scenario.report("--hospital", b, "--days", "2")
    assert done.returncode == 0, done.stderr
    assert f"hospital {b}, {DAY2} to {DAY3}" in done.stdout
    assert "Top reject rules" in done.stdout
    hospital_rows = [line for line in done.stdout.splitlines() if line.startswith(f"│ {b} ")]
    assert len(hospital_rows) == 1 and "missing_file" in hospital_rows[0]
    # Codes and counts only: no national ID (13 digits) anywhere in the output.
    for output in (done.stdout, json.dumps(report)):
        assert not any(token.isdigit() and len(token) == 13 for token in output.split())


def test_report_shows_code_coverage(scenario: Scenario) -> None:
    """Code coverage per hospital and code system from dbt's rpt_unmapped_codes, read as
    healthlink_ops (granted that one mart): the hospital with rewritten diagnoses first."""
    with connect(scenario.owner) as conn:
        expected = conn.execute(
            "SELECT hospital_code, code_system, sum(coded_rows), sum(unmapped_rows) "
            "FROM marts.rpt_unmapped_codes GROUP BY hospital_code, code_system"
        ).fetchall()
    assert expected
    counts = {(code, system): (coded, unmapped) for code, system, coded, unmapped in expected}
    done = scenario.report("--days", "30", "--json")
    assert done.returncode == 0, done.stderr
    coverage = json.loads(done.stdout)["coverage"]
    assert {
        (r["hospital_code"], r["code_system"]): (r["coded_rows"], r["unmapped_rows"])
        for r in coverage
    } == counts
    worst = coverage[0]
    assert worst["code_system"] == "icd10" and worst["unmapped_rows"] > 0
    assert worst["unmapped_share"] == pytest.approx(worst["unmapped_rows"] / worst["coded_rows"])
    shares = [row["unmapped_share"] for row in coverage]
    assert shares == sorted(shares, reverse=True)
    # The small dataset is native only: no hidden (unclassified) rows of another system.
    assert {row["unclassified_rows"] for row in coverage} == {None}

    broken = worst["hospital_code"]
    done = scenario.report("--hospital", broken, "--days", "30")
    assert done.returncode == 0, done.stderr
    assert "Code coverage per hospital and code system" in done.stdout
    lines = [line for line in done.stdout.splitlines() if line.startswith(f"│ {broken} ")]
    assert any("icd10" in line and f"{worst['unmapped_share']:.2%}" in line for line in lines)
    others = {code for code, _ in counts} - {broken}
    assert not any(
        line.startswith(f"│ {code} ") for code in others for line in done.stdout.splitlines()
    )


def test_rerun_and_backfill_keep_the_ledger_right(scenario: Scenario) -> None:
    """Last: it changes the scenario. Re-running a day rewrites its rows and nothing else;
    backfilling C's day 2 moves C's data-as-of on day 3 too."""
    b, c = scenario.codes[1:3]
    before = scenario.ledger(DAY2), scenario.ledger(DAY3)
    finish_run(f"test-{DAY2.isoformat()}", DAY2, scenario.settings, scenario.registry_dir)
    # The same rows, but for B's promise, read from the registry as it is now (1 day).
    before[0][b]["freshness_sla_days"] = 1
    assert (scenario.ledger(DAY2), scenario.ledger(DAY3)) == before
    with connect(scenario.settings) as conn:
        rows = conn.execute("SELECT count(*) FROM ops.hospital_day").fetchone()
    assert rows is not None and rows[0] == 12

    shutil.copytree(
        scenario.original_extracts / c / DAY2.isoformat(),
        scenario.registry_dir.parent / "extracts" / c / DAY2.isoformat(),
    )
    _run_day(scenario.settings, scenario.registry_dir, DAY2, [c])
    day2, day3 = scenario.ledger(DAY2), scenario.ledger(DAY3)
    assert day2[c]["status"] == "loaded" and day2[c]["data_as_of"] == DAY2
    assert day3[c]["data_as_of"] == DAY2 and day3[c]["lag_days"] == 1
    assert {k: v for k, v in day3.items() if k != c} == {
        k: v for k, v in before[1].items() if k != c
    }
