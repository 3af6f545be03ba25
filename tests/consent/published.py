"""A dbt-built DuckDB warehouse for the consent service's patients, and the published check."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from tests.consent.kit import H1, H2, H3, key_of
from tests.dbt import raw_fixture

PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"
CATEGORIES = ("encounter", "diagnosis", "medication_dispense", "lab_result", "allergy")
PATIENTS = (1, 2, 3)
NETWORK_OF = {H1: "NET01", H2: "NET01", H3: "NET02"}


@dataclass
class ModelPatient:
    """The reference model's view of one patient (kept by the stateful test)."""

    status: str = "unregistered"
    scope: str = "ALL"
    networks: set[str] = field(default_factory=set)
    hospitals: set[str] = field(default_factory=set)
    sensitive: bool = False

    def allows(self, hospital: str, network: str | None) -> bool:
        return self.status == "active" and (
            self.scope == "ALL" or hospital in self.hospitals or network in self.networks
        )


def build_published_warehouse(root: Path) -> Path:
    """Raw rows of patients 1-3 at H1-H3 (one HIV visit, sensitive), built by real dbt."""
    from dbt.cli.main import dbtRunner

    path = root / "warehouse.duckdb"
    conn = duckdb.connect(str(path))
    try:
        raw_fixture.create_tables(conn)
        for code, network in NETWORK_OF.items():
            raw_fixture.insert_rows(
                conn,
                "consent.hospital",
                [
                    {
                        "hospital_code": code,
                        "hospital_name": f"Hospital {code}",
                        "network_code": network,
                        "network_name": network,
                        "participating_since": dt.date(2024, 1, 1),
                        "per_visit_consent": code == H3,
                    }
                ],
            )
        raw = raw_fixture.RawRows(extract_date=dt.date(2025, 1, 10))
        for serial in PATIENTS:
            for hospital in (H1, H2, H3):
                raw.person(hospital, key_of(serial), "ทดสอบ")
                raw.visit(hospital, key_of(serial), f"S{serial}{hospital}", "J00")
            raw.visit(H1, key_of(serial), f"HIV{serial}", "B24")
            raw.allergy(H2, key_of(serial), raw_fixture.PARACETAMOL)
        raw.write(conn)
    finally:
        conn.close()
    env = {"HEALTHLINK_DUCKDB_PATH": str(path), "DBT_TARGET": "duckdb", "DO_NOT_TRACK": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        for command in ("seed", "build"):
            result = dbtRunner().invoke(
                [
                    command,
                    "--project-dir",
                    str(PROJECT_DIR),
                    "--profiles-dir",
                    str(PROJECT_DIR),
                    "--target-path",
                    str(root / "target"),
                    "--log-path",
                    str(root / "logs"),
                    "--quiet",
                ]
            )
            assert result.success, f"dbt {command} failed: {result.exception}"
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    # Fold the write-ahead log into the file: the tests copy the file alone.
    conn = duckdb.connect(str(path))
    try:
        conn.execute("CHECKPOINT")
    finally:
        conn.close()
    return path


def assert_published_consistent(conn: Any, model: dict[int, ModelPatient]) -> None:
    """No published row contradicts the model; every row the model allows is published.

    Runs only where the warehouse has published views (a dbt-built fixture); elsewhere it
    checks nothing and says so by returning early.
    """
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'published'"
    ).fetchone()[0]
    if not exists:
        return
    networks = dict(
        conn.execute("SELECT hospital_code, network_code FROM consent.hospital").fetchall()
    )
    keys = {key_of(serial): patient for serial, patient in model.items()}
    marks = ", ".join("?" for _ in keys)
    for category in CATEGORIES:
        published, stored = (
            [
                tuple(row)
                for row in conn.execute(
                    f"SELECT patient_key, hospital_code, is_sensitive, count(*) FROM {relation}"
                    f" WHERE patient_key IN ({marks}) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                    list(keys),
                ).fetchall()
            ]
            for relation in (f"published.{category}", f"marts.fct_{category}")
        )
        expected = [
            row
            for row in stored
            if keys[row[0]].allows(row[1], networks.get(row[1]))
            and (keys[row[0]].sensitive or not row[2])
        ]
        assert published == expected, (category, published, expected)
