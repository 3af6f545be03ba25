"""`healthlink backfill` through the real command (subprocess) on a DuckDB warehouse: the
DAG's hospital step per day, then dbt and publish; twice gives the same warehouse."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.airflow_harness import BIN
from tests.support.dag_deployment import DAY_TWO, Deployment, PostgresDeployment
from tests.support.machine import START, throwaway_pg_database
from warehouse.settings import LOADER_ROLE, url_for_role


def _ready(deployment: Deployment) -> Deployment:
    deployment.healthlink("migrate")
    deployment.healthlink(
        "consent", "import", str(deployment.dataset / "consent" / "registrations.csv")
    )
    return deployment


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def deployment(
    request: pytest.FixtureRequest, dataset: Path, tmp_path: Path
) -> Iterator[Deployment]:
    if request.param == "duckdb":
        yield _ready(Deployment(tmp_path, dataset))
        return
    with throwaway_pg_database("healthlink_backfill") as url:
        ready = _ready(PostgresDeployment(tmp_path, dataset, url))
        # As in production: the loader runs the sync, dbt derives the transformer role.
        ready.env["HEALTHLINK_WAREHOUSE"] = url_for_role(url, LOADER_ROLE)
        yield ready


@pytest.fixture
def duckdb_deployment(dataset: Path, tmp_path: Path) -> Deployment:
    return _ready(Deployment(tmp_path, dataset))


def hospitals(deployment: Deployment) -> list[str]:
    return sorted(p.stem for p in (deployment.dataset / "registry" / "hospitals").glob("*.yml"))


def backfill(deployment: Deployment, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "healthlink"), "backfill", *args],
        env={**deployment.env, "COLUMNS": "400"},  # rich wraps nothing
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_backfill_loads_every_day_and_twice_leaves_the_same_warehouse(
    duckdb_deployment: Deployment,
) -> None:
    """DuckDB only: the PostgreSQL DAG test builds dbt as the loader already; here the
    command's own path, whose PostgreSQL side the next test runs (minutes saved in CI)."""
    deployment = duckdb_deployment
    code = hospitals(deployment)[0]
    arguments = ("--hospital", code, "--from", START.isoformat(), "--to", DAY_TWO.isoformat())

    first = backfill(deployment, *arguments, "--json")
    assert first.returncode == 0, first.stderr[-3000:]
    result = json.loads(first.stdout)
    assert [(d["extract_date"], d["status"]) for d in result["days"]] == [
        (START.isoformat(), "loaded"),
        (DAY_TWO.isoformat(), "loaded"),
    ]
    assert result["published_pairs"] == 2 and not result["build_failed"]
    assert "backfill" in first.stderr  # the progress bar, on stderr (stdout is the JSON)
    # Through the DAG's step: its batches are recorded per day, only for this hospital.
    assert deployment.query(
        "SELECT hospital_code, extract_date, run_id FROM ops.batch ORDER BY 2"
    ) == [
        (code, START, f"backfill-{START}"),
        (code, DAY_TWO, f"backfill-{DAY_TWO}"),
    ]
    assert deployment.query("SELECT DISTINCT hospital_code FROM published.diagnosis") == [(code,)]
    assert deployment.query("SELECT count(*) FROM ops.transform_pending") == [(0,)]
    # The DAG's publish step per day: the run summary and the operations ledger.
    assert deployment.query(
        "SELECT extract_date, status FROM ops.hospital_day WHERE hospital_code = ? ORDER BY 1",
        [code],
    ) == [(START, "loaded"), (DAY_TWO, "loaded")]
    assert deployment.query(
        "SELECT DISTINCT run_id FROM ops.run_summary WHERE hospital_code = ? ORDER BY 1", [code]
    ) == [(f"backfill-{START}",), (f"backfill-{DAY_TWO}",)]
    before = deployment.checksums()

    again = backfill(deployment, *arguments)
    assert again.returncode == 0, again.stderr[-3000:]
    assert deployment.checksums() == before
    assert "2 of 2 day(s) done, 0 quarantined, 0 failed" in again.stdout


def test_a_quarantined_day_is_reported_and_a_failed_day_fails_the_command(
    deployment: Deployment,
) -> None:
    code = hospitals(deployment)[0]
    service = deployment.dataset / "extracts" / code / DAY_TWO.isoformat() / "SERVICE.txt"
    service.write_bytes(service.read_bytes().replace(b"|", b"\t"))  # wrong delimiter
    landing = deployment.root / "home" / "landing" / f"hospital={code}"
    landing.mkdir(parents=True)
    (landing / f"extract_date={START.isoformat()}").write_text("not a folder")

    done = backfill(
        deployment,
        "--hospital",
        code,
        "--from",
        START.isoformat(),
        "--to",
        DAY_TWO.isoformat(),
        "--json",
    )

    assert done.returncode == 1, done.stderr[-3000:]
    days = {d["extract_date"]: d for d in json.loads(done.stdout)["days"]}
    assert days[START.isoformat()]["status"] == "failed"
    assert days[DAY_TWO.isoformat()]["status"] == "quarantined"
    assert days[DAY_TWO.isoformat()]["reason_code"] == "wrong_delimiter"
    assert "Traceback" not in done.stderr
    assert dict(deployment.query("SELECT extract_date, status FROM ops.batch")) == {
        START: "failed",
        DAY_TWO: "quarantined",
    }
    assert dict(
        deployment.query(
            "SELECT extract_date, status FROM ops.hospital_day WHERE hospital_code = ?", [code]
        )
    ) == {START: "failed", DAY_TWO: "quarantined"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("--hospital", "99999", "--from", "2026-11-23", "--to", "2026-11-24"), "99999"),
        (("--from", "2026-11-24", "--to", "2026-11-23"), "is after --to"),
        (("--from", "2001-01-01", "--to", "2001-01-02"), "does not participate on 2001-01-01"),
        (("--from", "2026-11-23", "--to", "2999-01-01"), "cannot be in the future"),
    ],
)
def test_refusals_are_clear_and_touch_nothing(
    duckdb_deployment: Deployment, arguments: tuple[str, ...], message: str
) -> None:
    deployment = duckdb_deployment
    if "--hospital" not in arguments:
        arguments = ("--hospital", hospitals(deployment)[0], *arguments)

    done = backfill(deployment, *arguments)

    assert done.returncode == 2
    assert message in " ".join((done.stdout + done.stderr).split())
    assert "Traceback" not in done.stderr
    assert deployment.query("SELECT count(*) FROM ops.batch") == [(0,)]
