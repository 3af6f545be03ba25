"""A deployment of the real DAG for the tests: Airflow home, warehouse, registry, and what they read.

`Deployment` runs days with `airflow dags test` on the embedded DuckDB warehouse and reads the
run's state from Airflow's metadata database (the command exits 0 for a failed run);
`PostgresDeployment` points HEALTHLINK_WAREHOUSE at a PostgreSQL database.
"""

from __future__ import annotations

import sqlite3
import subprocess
from datetime import timedelta
from pathlib import Path

import duckdb
import psycopg

from tests.support.airflow_harness import BIN, airflow_environment, dags_test
from tests.support.machine import START, TEST_KEY
from tests.support.warehouse_batches import table_checksums

CATEGORIES = (
    "allergy",
    "diagnosis",
    "medication_dispense",
    "immunization",
    "procedure",
    "vital_sign",
    "lab_result",
    "imaging_report",
    "encounter",
)
DAY_TWO = START + timedelta(days=1)
WAREHOUSE_SCHEMAS = ("raw", "staging", "intermediate", "marts", "published", "reference")


class Deployment:
    def __init__(self, root: Path, dataset: Path) -> None:
        self.root = root
        self.dataset = dataset
        self.env = airflow_environment(root / "airflow", root / "home", dataset / "registry")
        self.env["HEALTHLINK_PSEUDONYM_KEY"] = TEST_KEY
        self.duckdb_path = root / "home" / "warehouse.duckdb"

    def healthlink(self, *args: str) -> str:
        result = subprocess.run(
            [str(BIN / "healthlink"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout

    def run_day(self, day) -> str:  # type: ignore[no-untyped-def]
        result = dags_test(self.env, day.isoformat())
        state = self.last_run_state()
        assert result.returncode == 0 and state == "success", (
            state,
            result.stdout[-3000:],
            result.stderr[-3000:],
        )
        return result.stdout

    def last_run_state(self) -> str:
        with sqlite3.connect(self.root / "airflow" / "airflow.db") as db:
            return db.execute("SELECT state FROM dag_run ORDER BY id DESC LIMIT 1").fetchone()[0]

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        conn = duckdb.connect(str(self.duckdb_path), read_only=True)
        try:
            return conn.execute(sql, params or []).fetchall()
        finally:
            conn.close()

    def checksums(self) -> dict[str, tuple]:
        conn = duckdb.connect(str(self.duckdb_path), read_only=True)
        try:
            return table_checksums(conn, WAREHOUSE_SCHEMAS)
        finally:
            conn.close()


class PostgresDeployment(Deployment):
    def __init__(self, root: Path, dataset: Path, url: str) -> None:
        super().__init__(root, dataset)
        self.url = url
        self.env["HEALTHLINK_WAREHOUSE"] = url

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql.replace("?", "%s"), params or []).fetchall()
