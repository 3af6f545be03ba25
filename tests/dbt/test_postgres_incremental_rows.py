"""PostgreSQL: the published row tables are incremental on the facts' batches.

A build writes the pending pairs' rows in place: the `_rows` tables keep their OID, their
row-level security, policies and grants; the views over them are never dropped (building a
row table alone leaves its view in place); day-one rows are not rewritten by day two; the
hospital attributes of old rows follow dim_hospital; and the result equals a full refresh.

Needs a PostgreSQL server (tests/support/machine.py); each run uses a throwaway database.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from conftest import CATEGORIES, Warehouse

from tests.support.machine import PG_SERVER, pg_dsn, throwaway_pg_database
from tests.support.raw_fixture import (
    DAY1,
    DAY2,
    H1,
    H2,
    P_ALL,
    P_NETWORK,
    RawRows,
    build_postgres,
    insert_rows,
)

pytestmark = pytest.mark.postgres

ROW_TABLES = tuple(f"published.{c}_rows" for c in (*CATEGORIES, "patient"))
VIEWS = tuple(f"published.{c}" for c in (*CATEGORIES, "patient"))
FACTS = tuple(f"marts.fct_{c}" for c in CATEGORIES)
# What a table's reads need an index for (PostgreSQL): a fact's or row table's incremental
# build deletes and inserts by (hospital_code, record_key), finds its pending pairs' rows by
# (hospital_code, extract_date) and compares tags by patient (macros/incremental_facts.sql);
# the purge deletes by patient; the API reads the row tables by patient (patient_rows also by
# national ID).
FACT_INDEXES = {
    ("hospital_code", "record_key"),
    ("hospital_code", "extract_date"),
    ("patient_key",),
}


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    with throwaway_pg_database("healthlink_rows_test") as url:
        yield url.rsplit("/", 1)[1]


@pytest.fixture(scope="module")
def warehouse(pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """Day one, seeded and built."""
    build_postgres(pg_dsn(pg_database))
    workdir = tmp_path_factory.mktemp("dbt_postgres_rows")
    env = {"DBT_TARGET": "postgres", "HEALTHLINK_PG_DBNAME": pg_database}
    env |= {f"HEALTHLINK_PG_{k.upper()}": v for k, v in PG_SERVER.items()}
    built = Warehouse(path=Path(workdir / "unused.duckdb"), workdir=workdir, target_env=env)
    built.dbt("seed")
    built.dbt("build")
    return built


def _rows(database: str, sql: str, params: list[Any] | None = None) -> list[Any]:
    with psycopg2.connect(pg_dsn(database)) as conn, conn.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _execute(database: str, *statements: str) -> None:
    with psycopg2.connect(pg_dsn(database)) as conn, conn.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _oids(database: str, relations: tuple[str, ...]) -> dict[str, int | None]:
    return {
        name: _rows(database, "SELECT to_regclass(%s)::oid", [name])[0][0] for name in relations
    }


def _protection(database: str) -> list[Any]:
    """RLS flags, grants and policies (with their predicates) of the published row tables."""
    tables = _rows(
        database,
        "SELECT c.oid::regclass::text, c.relrowsecurity, c.relforcerowsecurity,"
        " coalesce(c.relacl::text[], '{}') FROM pg_class AS c"
        " WHERE c.oid = ANY(%s::regclass[]) ORDER BY 1",
        [list(ROW_TABLES)],
    )
    policies = _rows(
        database,
        "SELECT p.polrelid::regclass::text, p.polname, p.polcmd, p.polpermissive,"
        " p.polroles::regrole[]::text[], pg_get_expr(p.polqual, p.polrelid),"
        " pg_get_expr(p.polwithcheck, p.polrelid) FROM pg_policy AS p"
        " WHERE p.polrelid = ANY(%s::regclass[]) ORDER BY 1, 2",
        [list(ROW_TABLES)],
    )
    views = _rows(
        database,
        "SELECT c.oid::regclass::text, c.reloptions, coalesce(c.relacl::text[], '{}'),"
        " array(SELECT DISTINCT d.refobjid::regclass::text FROM pg_rewrite AS r"
        "       JOIN pg_depend AS d ON d.objid = r.oid AND d.classid = 'pg_rewrite'::regclass"
        "       WHERE r.ev_class = c.oid AND d.refobjid <> c.oid"
        "         AND d.refclassid = 'pg_class'::regclass ORDER BY 1)"
        " FROM pg_class AS c WHERE c.oid = ANY(%s::regclass[]) ORDER BY 1",
        [list(VIEWS)],
    )
    return [tables, policies, views]


def _index_columns(database: str, tables: tuple[str, ...]) -> dict[str, set[tuple[str, ...]]]:
    """Each table's indexes, as their column lists (names differ from one build to the next)."""
    found: dict[str, set[tuple[str, ...]]] = {table: set() for table in tables}
    for table, columns in _rows(
        database,
        "SELECT i.indrelid::regclass::text,"
        " array(SELECT a.attname::text FROM unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)"
        "       JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
        "       ORDER BY k.n)"
        " FROM pg_index AS i WHERE i.indrelid = ANY(%s::regclass[])",
        [list(tables)],
    ):
        found[table].add(tuple(columns))
    return found


def _missing_indexes(database: str) -> dict[str, set[tuple[str, ...]]]:
    wanted = {table: FACT_INDEXES for table in ROW_TABLES}  # the row tables mirror the facts
    wanted["published.patient_rows"] = {("patient_key",), ("cid",)}
    wanted |= {fact: FACT_INDEXES for fact in FACTS}
    wanted["marts.rpt_unmapped_codes"] = {("extract_date",)}  # the ops report's window
    present = _index_columns(database, tuple(wanted))
    missing = {table: columns - present[table] for table, columns in wanted.items()}
    return {table: columns for table, columns in missing.items() if columns}


def _versions(database: str, table: str, day: dt.date) -> list[Any]:
    """(key, xmin) of a day's rows: a rewritten row gets a new xmin."""
    return _rows(
        database,
        f"SELECT hospital_code, record_key, xmin::text FROM {table}"
        " WHERE extract_date = %s ORDER BY 1, 2",
        [day],
    )


def _load(database: str, raw: RawRows) -> None:
    """What the loader does for a new day: raw rows in, their pairs (only) pending."""
    conn = psycopg2.connect(pg_dsn(database))
    try:
        with conn.cursor() as cursor:
            cursor.execute("DELETE FROM ops.transform_pending")
            raw.write(_Cursor(cursor))
        conn.commit()
    finally:
        conn.close()


def _mirrors_fact(database: str, category: str) -> None:
    """The row table holds exactly the fact's rows, each with its hospital's attributes."""
    diff = _rows(
        database,
        f"SELECT count(*) FROM published.{category}_rows AS held"
        f" FULL JOIN marts.fct_{category} AS fact USING (hospital_code, record_key)"
        f" LEFT JOIN marts.dim_hospital AS hospital ON hospital.hospital_code = held.hospital_code"
        f" WHERE held.record_key IS NULL OR fact.record_key IS NULL"
        f" OR to_jsonb(held) - 'hospital_name' - 'per_visit_required' <> to_jsonb(fact)"
        f" OR (held.hospital_name, held.per_visit_required)"
        f" IS DISTINCT FROM (hospital.hospital_name, hospital.per_visit_consent)",
    )
    assert diff == [(0,)], category


def test_day_two_is_written_in_place(warehouse: Warehouse, pg_database: str) -> None:
    tables_before = _oids(pg_database, ROW_TABLES)
    views_before = _oids(pg_database, VIEWS)
    protection_before = _protection(pg_database)
    day_one = {t: _versions(pg_database, t, DAY1) for t in ROW_TABLES[:-1]}
    assert all(tables_before.values()) and all(views_before.values())
    assert all(day_one.values())

    day_two = RawRows(extract_date=DAY2)
    day_two.visit(H1, P_ALL, "S-DAY2", "J00")
    day_two.visit(H2, P_NETWORK, "S-DAY2N", "E119")
    _load(pg_database, day_two)

    # The fact and its row table alone: the view over the table is not rebuilt, and must
    # neither be dropped (a table rebuild drops it with CASCADE) nor miss the new day. An API
    # reader's transaction stays open meanwhile: the build must not need a lock it holds up
    # (a table swap or ALTER TABLE would wait for it, and fail after lock_timeout).
    reader = psycopg2.connect(pg_dsn(pg_database))
    try:
        with reader.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM published.encounter")
        _execute(pg_database, f"ALTER DATABASE {pg_database} SET lock_timeout = '20s'")
        warehouse.dbt("run", "--select", "fct_encounter", "encounter_rows")
    finally:
        reader.rollback()
        reader.close()
        _execute(pg_database, f"ALTER DATABASE {pg_database} RESET lock_timeout")
    assert _oids(pg_database, ("published.encounter",)) == {
        "published.encounter": views_before["published.encounter"]
    }
    assert _rows(
        pg_database,
        "SELECT count(*) FROM published.encounter WHERE encounter_id = 'S-DAY2'",
    ) == [(1,)]

    warehouse.dbt("build")
    assert _oids(pg_database, ROW_TABLES) == tables_before
    assert all(_oids(pg_database, VIEWS).values())
    assert _protection(pg_database)[:2] == protection_before[:2]
    # The views may be replaced by their own (transactional) swap, never left missing, and
    # read the same tables with the same options and grants.
    assert [v[1:] for v in _protection(pg_database)[2]] == [v[1:] for v in protection_before[2]]
    for table, versions in day_one.items():
        assert _versions(pg_database, table, DAY1) == versions, table
    for category in CATEGORIES:
        _mirrors_fact(pg_database, category)
    assert _rows(
        pg_database,
        "SELECT count(*) FROM published.encounter_rows WHERE extract_date = %s",
        [DAY2],
    ) == [(2,)]
    assert _rows(
        pg_database,
        "SELECT DISTINCT encounter_id FROM published.encounter WHERE extract_date = %s ORDER BY 1",
        [DAY2],
    ) == [("S-DAY2",), ("S-DAY2N",)]


def test_hospital_attributes_follow_the_registry(warehouse: Warehouse, pg_database: str) -> None:
    h1_rows = _versions(pg_database, "published.encounter_rows", DAY1)
    h1_rows = [row for row in h1_rows if row[0] == H1]
    _execute(
        pg_database,
        "DELETE FROM ops.transform_pending",
        f"UPDATE consent.hospital SET hospital_name = 'renamed', per_visit_consent = true"
        f" WHERE hospital_code = '{H2}'",
    )
    try:
        warehouse.dbt("build")
        held = _rows(
            pg_database,
            "SELECT DISTINCT hospital_name, per_visit_required FROM published.diagnosis_rows"
            " WHERE hospital_code = %s",
            [H2],
        )
        assert held == [("renamed", True)]
        for category in CATEGORIES:
            _mirrors_fact(pg_database, category)
        after = _versions(pg_database, "published.encounter_rows", DAY1)
        assert [row for row in after if row[0] == H1] == h1_rows  # other hospitals untouched
    finally:
        _execute(
            pg_database,
            f"UPDATE consent.hospital SET hospital_name = 'โรงพยาบาลสอง',"
            f" per_visit_consent = false WHERE hospital_code = '{H2}'",
        )


def test_reloaded_day_without_a_record_falls_back(warehouse: Warehouse, pg_database: str) -> None:
    """Day two re-sent without its H1 visit and with a newer version of a day-one record:
    the vanished rows go, and the moved version is held under its new day."""
    resent = RawRows(extract_date=DAY2)
    resent.visit(H2, P_NETWORK, "S-DAY2N", "E119")
    resent.add(
        "encounter",
        H1,
        P_ALL,
        "S-COLD",
        encounter_id="S-COLD",
        encounter_class="OPD",
        service_date=DAY1,
        location="ER",
    )
    conn = psycopg2.connect(pg_dsn(pg_database))
    try:
        with conn.cursor() as cursor:
            cursor.execute("DELETE FROM ops.transform_pending")
            for entity in (*CATEGORIES, "patient"):
                cursor.execute(f"DELETE FROM raw.{entity} WHERE extract_date = %s", [DAY2])
            for entity, rows in resent.rows.items():
                insert_rows(_Cursor(cursor), f"raw.{entity}", rows)
            cursor.execute(
                "INSERT INTO ops.transform_pending VALUES (%s, %s), (%s, %s)",
                [H1, DAY2, H2, DAY2],
            )
        conn.commit()
    finally:
        conn.close()
    warehouse.dbt("build")
    assert _rows(
        pg_database,
        "SELECT location, extract_date FROM published.encounter_rows WHERE record_key = 'S-COLD'",
    ) == [("ER", DAY2)]
    assert _rows(
        pg_database, "SELECT count(*) FROM published.lab_result_rows WHERE encounter_id = 'S-DAY2'"
    ) == [(0,)]
    for category in CATEGORIES:
        _mirrors_fact(pg_database, category)


def test_retag_reads_only_encounters_a_pending_pair_changed(
    warehouse: Warehouse, pg_database: str
) -> None:
    """A diagnosis of a later day re-tags its encounter's rows, in the fact and the row
    table, and no build compares the rows of encounters no pending pair changed (issue 11).

    The probe is H2's S-HT imaging report made stale by hand in both tables (an encounter tag,
    'hiv', that no diagnosis gives it); that cannot arise in operation (rows are written with
    their encounter's current tag, and a change is re-tagged by its pair's build). A build
    comparing the whole history rewrites it; the day's build leaves it.
    """
    probe = " WHERE hospital_code = %s AND encounter_id = 'S-HT'"
    tables = ("marts.fct_imaging_report", "published.imaging_report_rows")
    _execute_with(pg_database, tables, f"SET encounter_sensitivity_category = 'hiv'{probe}")
    day_three = RawRows(extract_date=DAY2 + dt.timedelta(days=1))
    day_three.add(
        "diagnosis",
        H1,
        P_ALL,
        "S-COLD|1|J00",
        encounter_id="S-COLD",
        encounter_class="OPD",
        service_date=DAY1,
        diagnosis_type="1",
        icd10_code="F200",
        provider_id="D001",
    )
    _load(pg_database, day_three)
    warehouse.dbt("build")

    for table in ("marts.fct_medication_dispense", "published.medication_dispense_rows"):
        assert _rows(
            pg_database,
            f"SELECT DISTINCT sensitivity_category FROM {table} WHERE encounter_id = 'S-COLD'",
        ) == [("mental_health",)], table
    for table in tables:
        assert _rows(
            pg_database, f"SELECT encounter_sensitivity_category FROM {table}{probe}", [H2]
        ) == [("hiv",)], table
    _execute_with(pg_database, tables, f"SET encounter_sensitivity_category = NULL{probe}")
    for category in CATEGORIES:
        _mirrors_fact(pg_database, category)


def _execute_with(database: str, tables: tuple[str, ...], update: str) -> None:
    """`UPDATE <table> <update>` on each of `tables`, with H2 as the one parameter."""
    with psycopg2.connect(pg_dsn(database)) as conn, conn.cursor() as cursor:
        for table in tables:
            cursor.execute(f"UPDATE {table} {update}", [H2])


def _last_statement(workdir: Path, prefix: str) -> str:
    """The last statement dbt ran that starts with `prefix` (from its debug log)."""
    log = (workdir / "logs" / "dbt.log").read_text()
    start = log.rindex(prefix)
    end = log.find("\n\x1b[0m", start)
    return log[start : end if end > 0 else None].strip().rstrip(";")


def test_vanished_rows_are_one_anti_join(warehouse: Warehouse, pg_database: str) -> None:
    """fct_vital_sign's pre-hook (delete_vanished_rows, with derived BMI rows) asks whether
    a row still has current rows once, as an anti-join: with the NOT EXISTS under an OR,
    PostgreSQL ran it as a subplan per candidate row, each reading the hospital's history of
    vital signs (22 s of a day's build at 10 hospitals x 30 days)."""
    warehouse.dbt("run", "--select", "fct_vital_sign")
    delete = _last_statement(
        warehouse.workdir, f'delete from "{pg_database}"."marts"."fct_vital_sign" as target_row'
    )
    assert "is_derived" in delete
    plan = "\n".join(row[0] for row in _rows(pg_database, f"EXPLAIN {delete}"))
    assert "Anti Join" in plan, plan
    assert "int_vital_sign__with_bmi" not in plan  # the view is inlined, read in the join


def test_published_view_tests_read_the_row_tables(warehouse: Warehouse) -> None:
    """The day-scoped tests of a published view read its row table: through the view,
    PostgreSQL called the consent function for every row of the history before joining the
    pairs being built (macros/being_built.sql, scoped_test_relation)."""
    compiled = {
        path.name: path.read_text()
        for path in (warehouse.workdir / "target" / "run").rglob("*.sql")
        if path.parent.name in ("_published__categories.yml", "_published__patient.yml")
    }
    scoped = {name: sql for name, sql in compiled.items() if "transform_pending" in sql}
    grain = [name for name in scoped if name.startswith("unique_combination_of_columns_")]
    assert len(grain) == len(CATEGORIES), sorted(scoped)
    for name, sql in scoped.items():
        read = re.findall(r'"published"\."(\w+)"', sql)
        assert read and all(table.endswith("_rows") for table in read), (name, read)


@pytest.mark.parametrize("category", ["diagnosis", "medication_dispense", "lab_result"])
def test_coded_rows_classify_once_a_row(
    warehouse: Warehouse, pg_database: str, category: str
) -> None:
    """A coded view reads sensitivity_classes once per row (macros/coded_rows.sql): with the
    class as a scalar subquery, PostgreSQL inlined it into each of its three uses."""
    plan = _rows(pg_database, f"EXPLAIN SELECT * FROM intermediate.int_{category}__coded")
    scans = [row[0] for row in plan if "on sensitivity_classes" in row[0]]
    assert len(scans) == 1, scans


def _classified_rows(database: str, compiled: Path) -> int:
    """How many rows the compiled select looks up in sensitivity_classes (EXPLAIN ANALYZE:
    the loops of that scan, summed over the plan)."""
    plan = _rows(database, f"EXPLAIN (ANALYZE, COSTS OFF) {compiled.read_text()}")
    lines = [row[0] for row in plan if "on sensitivity_classes" in row[0]]
    assert lines, plan
    return sum(int(re.search(r"loops=(\d+)", line).group(1)) for line in lines)  # type: ignore[union-attr]


def test_a_day_codes_only_its_own_rows(warehouse: Warehouse, pg_database: str) -> None:
    """An incremental fact and rpt_unmapped_codes classify only the staged rows of the day
    being built (macros/coded_rows.sql, coded_relation): read through a coded view,
    PostgreSQL classified every raw row of the history before joining the day's keys
    (0.6 s of each coded fact at 10 hospitals x 30 days, against 0.04 s)."""
    day_four = RawRows(extract_date=DAY2 + dt.timedelta(days=2))
    day_four.visit(H1, P_ALL, "S-DAY4", "F200")
    _load(pg_database, day_four)
    warehouse.dbt("run", "--select", "fct_diagnosis", "rpt_unmapped_codes")
    compiled = warehouse.workdir / "target" / "compiled" / "healthlink" / "models" / "marts"
    (history,) = _rows(pg_database, "SELECT count(*) FROM raw.diagnosis")[0]
    (today,) = _rows(
        pg_database,
        "SELECT count(*) FROM raw.diagnosis WHERE extract_date = %s",
        [day_four.extract_date],
    )[0]
    assert 0 < today < history
    assert _classified_rows(pg_database, compiled / "facts" / "fct_diagnosis.sql") == today
    classified_today = sum(
        _rows(
            pg_database,
            f"SELECT count(*) FROM raw.{table} WHERE extract_date = %s",
            [day_four.extract_date],
        )[0][0]
        for table in ("diagnosis", "medication_dispense", "lab_result", "procedure")
    )
    assert _classified_rows(pg_database, compiled / "rpt_unmapped_codes.sql") == classified_today
    assert _rows(
        pg_database,
        "SELECT sensitivity_category FROM marts.fct_diagnosis WHERE encounter_id = 'S-DAY4'",
    ) == [("mental_health",)]
    warehouse.dbt("build")  # the day's other categories, for the tests that follow


def test_equals_a_full_refresh(warehouse: Warehouse, pg_database: str) -> None:
    def contents() -> dict[str, list[Any]]:
        return {t: _rows(pg_database, f"SELECT * FROM {t} ORDER BY 1, 2, 3") for t in ROW_TABLES}

    incremental = contents()
    protection = _protection(pg_database)
    assert _missing_indexes(pg_database) == {}
    warehouse.dbt("build", "--full-refresh")
    assert contents() == incremental
    assert _protection(pg_database)[:2] == protection[:2]
    # A full refresh swaps new tables in while the old ones still hold their index names;
    # the new tables get their indexes all the same.
    assert _missing_indexes(pg_database) == {}


class _Cursor:
    """insert_rows' executor over a psycopg2 cursor (qmark placeholders)."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Any = None) -> Any:
        self._cursor.execute(sql.replace("?", "%s"), params)
        return self._cursor
