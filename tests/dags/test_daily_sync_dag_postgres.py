"""The real DAG, end to end, with `airflow dags test` on PostgreSQL (HEALTHLINK_WAREHOUSE)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.airflow_harness import ensure_manifest, migrate
from tests.support.dag_deployment import CATEGORIES, DAY_TWO, PostgresDeployment
from tests.support.machine import START, throwaway_pg_database
from warehouse.settings import LOADER_ROLE, url_for_role

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def deployment(
    small_dataset: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PostgresDeployment]:
    ensure_manifest("postgres")
    with throwaway_pg_database("healthlink_dag_test") as url:
        root = tmp_path_factory.mktemp("deployment_pg")
        dataset = root / "dataset"
        shutil.copytree(small_dataset, dataset)
        deployment = PostgresDeployment(root, dataset, url)
        migrate(deployment.env)
        deployment.healthlink("migrate")
        deployment.healthlink("consent", "import", str(dataset / "consent" / "registrations.csv"))
        # From here on as in production: the DAG's tasks connect as the loader, and dbt
        # derives the transformer role from that URL (warehouse.settings.dbt_environment_for).
        deployment.env["HEALTHLINK_WAREHOUSE"] = url_for_role(url, LOADER_ROLE)
        yield deployment


def test_two_days_through_the_dag_on_postgres(deployment: PostgresDeployment) -> None:
    hospitals = {p.stem for p in (deployment.dataset / "registry" / "hospitals").glob("*.yml")}
    for day in (START, DAY_TWO):
        deployment.run_day(day)
        summary = deployment.query(
            "SELECT hospital_code, status, rows_read, rows_loaded, rows_rejected, rows_filtered "
            "FROM ops.run_summary WHERE extract_date = ?",
            [day],
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
    ((days,),) = deployment.query("SELECT count(DISTINCT extract_date) FROM raw.encounter")
    assert days == 2
    assert deployment.query("SELECT count(*) FROM ops.transform_pending") == [(0,)]
    # nothing was written to a DuckDB file: the whole run went to PostgreSQL
    assert not deployment.duckdb_path.exists()
    # dbt ran as the transformer: it owns every table it built
    owners = deployment.query(
        "SELECT DISTINCT tableowner FROM pg_tables"
        " WHERE schemaname IN ('staging', 'intermediate', 'marts', 'published')"
    )
    assert owners == [("healthlink_transformer",)]
    # each day's ledger (publish_and_summarize, as the loader) and the dbt tests of each
    # day's test task (cosmos's callback)
    ledger = deployment.query(
        "SELECT extract_date, count(*) FILTER (WHERE status = 'loaded') FROM ops.hospital_day"
        " GROUP BY extract_date ORDER BY extract_date"
    )
    assert ledger == [(START, len(hospitals)), (DAY_TWO, len(hospitals))]
    ((invocations, passed),) = deployment.query(
        "SELECT count(DISTINCT invocation_id), count(*) FILTER (WHERE status = 'pass')"
        " FROM ops.dbt_test_result"
    )
    assert invocations >= 2 and passed > 100
    # the loader's statistics refresh ran (raw.refresh_statistics, a definer function)
    ((analysed,),) = deployment.query(
        "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables"
        " WHERE schemaname = 'raw' AND relname = 'encounter'"
    )
    assert analysed
