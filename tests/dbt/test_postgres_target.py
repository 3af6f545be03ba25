"""The same project on PostgreSQL: builds, re-runs incrementally, applies consent and the gate.

Needs a PostgreSQL server at HEALTHLINK_PG_HOST/PORT/USER/PASSWORD (defaults 127.0.0.1:5432,
postgres, no password); fails when none answers. Each run uses a throwaway database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from conftest import CATEGORIES, Warehouse

from tests.support.consent_checksum import CONSENT_STATES, CONSENT_VIEW, checksums
from tests.support.machine import PG_SERVER, pg_dsn, throwaway_pg_database
from tests.support.raw_fixture import (
    H1,
    H2,
    H3,
    P_ALL,
    P_NETWORK,
    P_WITHDRAWN,
    bangkok_now,
    build_postgres,
)

pytestmark = pytest.mark.postgres

@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    with throwaway_pg_database("healthlink_dbt_test") as url:
        yield url.rsplit("/", 1)[1]


def _dsn(dbname: str) -> str:
    return pg_dsn(dbname)


@pytest.fixture(scope="module")
def pg_warehouse(pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    build_postgres(_dsn(pg_database))
    workdir = tmp_path_factory.mktemp("dbt_postgres")
    env = {"DBT_TARGET": "postgres", "HEALTHLINK_PG_DBNAME": pg_database}
    env |= {f"HEALTHLINK_PG_{k.upper()}": v for k, v in PG_SERVER.items()}
    warehouse = Warehouse(path=Path(workdir / "unused.duckdb"), workdir=workdir, target_env=env)
    warehouse.dbt("seed")
    warehouse.dbt("build")
    return warehouse


def _rows(database: str, sql: str, params: list[Any] | None = None, setup: str = "") -> list[Any]:
    with psycopg2.connect(_dsn(database)) as conn, conn.cursor() as cursor:
        if setup:
            cursor.execute(setup)
        cursor.execute(sql, params)
        return cursor.fetchall()


def _facts(database: str) -> dict[str, list[Any]]:
    return {
        c: _rows(database, f"SELECT * FROM marts.fct_{c} ORDER BY hospital_code, record_key")
        for c in CATEGORIES
    }


def test_incremental_rerun_is_identical(pg_warehouse: Warehouse, pg_database: str) -> None:
    before = _facts(pg_database)
    assert all(before.values())
    pg_warehouse.dbt("build")  # same pending pairs: the incremental path, then the dbt tests
    assert _facts(pg_database) == before


def test_consent_applied(pg_warehouse: Warehouse, pg_database: str) -> None:
    def hospitals(patient: str) -> set[str]:
        rows = _rows(
            pg_database,
            "SELECT DISTINCT hospital_code FROM published.encounter WHERE patient_key = %s",
            [patient],
        )
        return {code for (code,) in rows}

    assert hospitals(P_WITHDRAWN) == set()
    assert hospitals(P_NETWORK) == {H1, H2}
    visible = _rows(
        pg_database,
        "SELECT DISTINCT encounter_id FROM published.lab_result WHERE patient_key = %s",
        [P_ALL],
    )
    assert ("S-HIV",) not in visible and ("S-COLD",) in visible


def test_per_visit_gate(pg_warehouse: Warehouse, pg_database: str) -> None:
    pg_warehouse.dbt("compile", "--select", "per_visit_visible_encounters")
    compiled = next(
        pg_warehouse.workdir.joinpath("target").rglob("per_visit_visible_encounters.sql")
    ).read_text()
    gated = f"SELECT DISTINCT hospital_code FROM ({compiled}) AS gated WHERE patient_key = %s"
    as_physician = (
        "SELECT set_config('healthlink.physician_licence', '12345', false),"
        f" set_config('healthlink.physician_hospital', '{H1}', false)"
    )
    with psycopg2.connect(_dsn(pg_database)) as conn, conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO consent.patient_sender VALUES (%s, 'network', 'NET02')", [P_NETWORK]
        )
    assert {r[0] for r in _rows(pg_database, gated, [P_NETWORK], as_physician)} == {H1, H2}
    now = bangkok_now()
    with psycopg2.connect(_dsn(pg_database)) as conn, conn.cursor() as cursor:
        cursor.execute(
            "INSERT INTO consent.per_visit_grant VALUES ('12345', %s, %s, %s, %s, %s)",
            [H1, P_NETWORK, H3, now, now + dt.timedelta(days=1)],
        )
    assert {r[0] for r in _rows(pg_database, gated, [P_NETWORK], as_physician)} == {H1, H2, H3}
    assert {r[0] for r in _rows(pg_database, gated, [P_NETWORK])} == {H1, H2}  # no physician


@pytest.mark.parametrize("state", CONSENT_STATES)
def test_consent_join_matches_old_form(
    pg_warehouse: Warehouse, pg_database: str, state: str
) -> None:
    # The published views read the consent view through consent.row_allowed /
    # patient_visible: the same rows under the equi-join form as under the old OR-EXISTS form.
    conn = psycopg2.connect(_dsn(pg_database))
    try:
        with conn.cursor() as cursor:
            new, old = checksums(cursor, "postgres", CONSENT_STATES[state])
    finally:
        conn.rollback()
        conn.close()
    assert new == old
    assert new[CONSENT_VIEW][0] > 0 and new["published.encounter"][0] > 0
