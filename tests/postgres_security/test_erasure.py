"""Issue 9, finding 10 on PostgreSQL: what the purge erases beyond raw and marts.

The published row tables (dbt-built, the transformer's) and the API's name-search index (the
API's) hold a purged pair until the next build or index rebuild. The loader, which runs the
purge, reaches them only through `consent.erase_derived_rows` (migration 013): it deletes the
pair everywhere, while the loader itself still may not touch those tables and the API role
may not call it. (DuckDB has no published tables; tests/security/test_finding_10_* covers the
name index on both warehouses through the CLI.)
"""

from __future__ import annotations

import psycopg
import pytest

from tests.support.secured_warehouse import SecuredWarehouse
from warehouse.api.name_index import blocking_keys
from warehouse.storage.tables.api import NAME_INDEX_DDL

LOADER = "healthlink_loader"


def _row_tables(conn: psycopg.Connection) -> dict[str, str]:
    """published.*_rows -> the column naming the pair's hospital."""
    rows = conn.execute(
        "SELECT c.table_name, max(CASE WHEN c.column_name = 'hospital_code' THEN 2"
        " WHEN c.column_name = 'demographics_hospital_code' THEN 1 END)"
        " FROM information_schema.columns AS c WHERE c.table_schema = 'published'"
        " AND c.table_name LIKE '%\\_rows' GROUP BY 1"
    ).fetchall()
    names = {2: "hospital_code", 1: "demographics_hospital_code"}
    return {f"published.{table}": names[rank] for table, rank in rows if rank}


def _held(conn: psycopg.Connection, key: str, hospital: str) -> dict[str, int]:
    return {
        table: conn.execute(
            f"SELECT count(*) FROM {table} WHERE patient_key = %s AND {column} = %s",
            [key, hospital],
        ).fetchone()[0]
        for table, column in _row_tables(conn).items()
    }


def test_finding_10_loader_erases_published_rows_and_name_keys(
    secured: SecuredWarehouse,
) -> None:
    with psycopg.connect(secured.dsn(), autocommit=True) as admin:
        key, hospital = admin.execute(
            "SELECT patient_key, demographics_hospital_code FROM published.patient_rows"
            " ORDER BY 1 LIMIT 1"
        ).fetchone()
        (other,) = admin.execute(
            "SELECT patient_key FROM published.patient_rows WHERE patient_key <> %s LIMIT 1",
            [key],
        ).fetchone()
        before = _held(admin, key, hospital)
        assert before["published.patient_rows"] == 1 and sum(before.values()) > 1
        for statement in NAME_INDEX_DDL:  # the API's own DDL, as at its start-up
            admin.execute(statement)
        for patient in (key, other):
            for name_key in blocking_keys("somchai", "jaidee"):
                admin.execute("INSERT INTO api.name_key VALUES (%s, %s)", [name_key, patient])
        admin.execute("INSERT INTO api.name_index_state VALUES ('built')")

    with psycopg.connect(secured.dsn(LOADER), autocommit=True) as loader:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            loader.execute("DELETE FROM published.encounter_rows WHERE patient_key = %s", [key])
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            loader.execute("DELETE FROM api.name_key WHERE patient_key = %s", [key])
        deleted = dict(
            loader.execute(
                "SELECT relation, deleted FROM consent.erase_derived_rows(%s, %s)",
                [[key], [hospital]],
            ).fetchall()
        )
    assert {t: n for t, n in deleted.items() if t.startswith("published.")} == before
    assert deleted["api.name_key"] == len(blocking_keys("somchai", "jaidee"))

    with psycopg.connect(secured.dsn(), autocommit=True) as admin:
        assert set(_held(admin, key, hospital).values()) == {0}
        index = admin.execute("SELECT DISTINCT patient_key FROM api.name_key").fetchall()
        assert index == [(other,)]
        assert admin.execute("SELECT count(*) FROM api.name_index_state").fetchone() == (0,)

    with (
        psycopg.connect(secured.dsn("healthlink_api"), autocommit=True) as api,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        api.execute("SELECT * FROM consent.erase_derived_rows(%s, %s)", [[other], [hospital]])
