"""`healthlink metrics serve`: Prometheus /metrics over real HTTP, values read from the ops
tables at each scrape, behind a scrape token; production refuses to serve without one."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.airflow_harness import BIN
from tests.support.dag_deployment import Deployment
from tests.support.machine import START, TEST_KEY, throwaway_pg_database
from tests.support.scrape import collect, samples
from tests.support.uvicorn_server import free_port
from tests.support.warehouse_batches import prepare
from warehouse.clock import bangkok_today
from warehouse.pipeline.alerts import CONDITIONS
from warehouse.pipeline.batch import sync_batch
from warehouse.settings import Settings
from warehouse.storage.connection import connect, wanted_path
from warehouse.storage.schema import setup_warehouse

TOKEN = "scrape-token-for-the-test-0123456789"


@contextmanager
def metrics_server(env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "healthlink"), "metrics", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url, timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("metrics server did not start") from None
                time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_scrape_reads_the_ops_tables_behind_the_token(
    loaded: tuple[Deployment, str],
) -> None:
    deployment, code = loaded
    env = {**deployment.env, "HEALTHLINK_METRICS_TOKEN": TOKEN}
    with metrics_server(env) as url:
        assert httpx.get(url, timeout=30).status_code == 401
        wrong = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN[:-1]}x"}, timeout=30)
        assert wrong.status_code == 401 and TOKEN not in wrong.text
        assert httpx.get(url.replace("/metrics", "/"), timeout=30).status_code == 404

        scraped = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)

        assert scraped.status_code == 200, scraped.text
        values = samples(scraped.text)
        per_entity = deployment.query(
            "SELECT entity, rows_loaded, rows_rejected FROM ops.batch_entity "
            "WHERE hospital_code = ? AND extract_date = ?",
            [code, START],
        )
        assert len(per_entity) == 10
        for entity, rows_loaded, rows_rejected in per_entity:
            labels = (("entity", entity), ("hospital", code))
            assert values[("healthlink_rows_loaded", labels)] == rows_loaded
            assert values[("healthlink_rows_rejected", labels)] == rows_rejected
        assert sum(r[2] for r in per_entity) > 0  # the hospital chosen has rejects
        hospital = (("hospital", code),)
        assert values[("healthlink_lag_days", hospital)] == (bangkok_today() - START).days
        assert values[("healthlink_last_batch_loaded", hospital)] == 1
        assert values[("healthlink_last_batch_duration_seconds", hospital)] > 0
        # One series per alert condition, matching ops.alert (none raised: zero).
        raised = dict(deployment.query("SELECT condition, count(*) FROM ops.alert GROUP BY 1", []))
        raised = {condition: int(raised.get(condition, 0)) for condition in CONDITIONS}
        for condition, count in raised.items():
            assert values[("healthlink_alerts_raised_total", (("condition", condition),))] == count
        # Bounded labels: hospital codes, entity names, alert conditions and delivery states.
        label_names = {name for _, pairs in values for name, _ in pairs}
        assert label_names <= {"hospital", "entity", "condition", "state"}

        # No state in the server: a batch recorded after it started is in the next scrape.
        others = sorted(
            p.stem for p in (deployment.dataset / "registry" / "hospitals").glob("*.yml")
        )
        other = next(
            c
            for c in others
            if c != code
            and not deployment.query("SELECT 1 FROM ops.batch WHERE hospital_code = ?", [c])
        )
        deployment.healthlink("ingest", "--hospital", other, "--date", START.isoformat())
        again = samples(
            httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30).text
        )
        assert again[("healthlink_last_batch_loaded", (("hospital", other),))] == 1


def test_a_duckdb_scrape_answers_while_a_sync_holds_the_writer_lock(
    loaded: tuple[Deployment, str],
) -> None:
    """The scrape reads the pipeline's snapshot: it neither waits for the writer lock nor
    asks for it (a SharedDuckDB holder would give the file up when asked)."""
    deployment, code = loaded
    settings = Settings(
        home=deployment.duckdb_path.parent,
        registry_dir=deployment.dataset / "registry",
        pseudonym_key=TEST_KEY,  # type: ignore[arg-type]
        environment="test",
    )
    rows_loaded = deployment.query(
        "SELECT entity, rows_loaded FROM ops.batch_entity WHERE hospital_code = ? "
        "AND extract_date = ?",
        [code, START],
    )
    env = {**deployment.env, "HEALTHLINK_METRICS_TOKEN": TOKEN}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with metrics_server(env) as url, connect(settings) as writer, writer.transaction():
        # A sync mid-load: the lock taken, the file open for writing, a transaction open.
        writer.execute(
            "UPDATE ops.batch SET duration_s = duration_s WHERE hospital_code = ?", [code]
        )
        wanted = wanted_path(settings)
        announced = wanted.stat().st_mtime_ns if wanted.exists() else None

        # Without the snapshot this scrape would wait for the lock (10 minutes): the timeout
        # turns that into a failure.
        scraped = httpx.get(url, headers=headers, timeout=20)

        assert scraped.status_code == 200, scraped.text
        values = samples(scraped.text)
        for entity, loaded_rows in rows_loaded:
            labels = (("entity", entity), ("hospital", code))
            assert values[("healthlink_rows_loaded", labels)] == loaded_rows
        assert values[("healthlink_metrics_snapshot_timestamp_seconds", ())] > 0
        assert (wanted.stat().st_mtime_ns if wanted.exists() else None) == announced


def test_production_refuses_to_serve_metrics_without_a_token(
    loaded: tuple[Deployment, str],
) -> None:
    deployment, _ = loaded
    env = {**deployment.env, "HEALTHLINK_ENVIRONMENT": "production", "COLUMNS": "400"}
    env.pop("HEALTHLINK_METRICS_TOKEN", None)

    done = subprocess.run(
        [str(BIN / "healthlink"), "metrics", "serve", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert "HEALTHLINK_METRICS_TOKEN must be set" in done.stderr


@pytest.mark.postgres
def test_the_collector_reads_the_same_numbers_on_postgresql(dataset: Path, tmp_path: Path) -> None:
    """The collector's SQL on PostgreSQL: one hospital's batch loaded, scraped in-process."""
    with throwaway_pg_database("healthlink_metrics") as url:
        settings = Settings(
            home=tmp_path / "home",
            warehouse=url,
            registry_dir=dataset / "registry",
            pseudonym_key=TEST_KEY,  # type: ignore[arg-type]
            environment="test",
        )
        setup_warehouse(settings)
        registry = prepare(settings, dataset)
        code = sorted(registry.hospitals)[0]
        assert sync_batch(registry.hospitals[code], START, settings=settings).status == "loaded"
        values = collect(settings)

        with connect(settings) as conn:
            per_entity = conn.execute(
                "SELECT entity, rows_loaded, rows_rejected FROM ops.batch_entity "
                "WHERE hospital_code = ?",
                [code],
            ).fetchall()
    assert len(per_entity) == 10
    for entity, rows_loaded, rows_rejected in per_entity:
        labels = (("entity", entity), ("hospital", code))
        assert values[("healthlink_rows_loaded", labels)] == rows_loaded
        assert values[("healthlink_rows_rejected", labels)] == rows_rejected
    hospital = (("hospital", code),)
    assert values[("healthlink_lag_days", hospital)] == (bangkok_today() - START).days
    assert values[("healthlink_last_batch_loaded", hospital)] == 1
