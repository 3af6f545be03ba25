"""What the service roles may do, and the catalog state every dbt build must leave behind."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors

from tests.support.secured_warehouse import SecuredWarehouse
from tests.support.service_roles import API, connect, one
from warehouse.storage.migrations import SERVICE_ROLES

pytestmark = pytest.mark.postgres

# Layers holding patient data; every table in them with a patient_key must force RLS.
PATIENT_DATA_SCHEMAS = ("raw", "consent", "staging", "intermediate", "marts", "published")
# Encounters the API role sees without a physician set: S-COLD, S-HT, S-DEP, S-N2, S-URI (the
# raw fixture's; S-COMORB is sensitive through a comorbidity, see test_row_security).
VISIBLE_ENCOUNTERS = 5
OPS = "healthlink_ops"


@pytest.fixture(scope="module")
def rebuilt(secured: SecuredWarehouse) -> SecuredWarehouse:
    """A second full build: the incremental path, and every relation recreated once more."""
    secured.dbt("build")
    return secured


@pytest.mark.parametrize(
    "relation",
    [
        "raw.encounter",
        "raw.patient",
        "marts.fct_encounter",
        "marts.dim_patient",
        "marts.rpt_unmapped_codes",  # operations read it as healthlink_ops, not the API
        "consent.patient_consent",
        "consent.per_visit_grant",
        "consent.hospital",
        "staging.stg_consent__patient_consent",
        "intermediate.int_consent__patient_hospital",
        "intermediate.int_consent__visible_rows",
        "ops.transform_pending",
        "audit.access_log",
    ],
)
def test_api_cannot_read_sources_marts_or_consent(rebuilt: SecuredWarehouse, relation: str) -> None:
    with connect(rebuilt.dsn(API)) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(f"SELECT count(*) FROM {relation}")


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO audit.access_log (physician_licence, action) VALUES ('MD-1', 'read')",
        "UPDATE audit.access_log SET action = 'edited'",
        "DELETE FROM audit.access_log",
        "TRUNCATE audit.access_log",
    ],
)
def test_api_cannot_write_audit_rows_directly(rebuilt: SecuredWarehouse, statement: str) -> None:
    """The api role appends only through audit.append_link (which checks the chain head)."""
    with connect(rebuilt.dsn()) as conn:
        before = one(conn, "SELECT count(*) FROM audit.access_log")
    with connect(rebuilt.dsn(API)) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(statement)
    with connect(rebuilt.dsn()) as conn:
        assert one(conn, "SELECT count(*) FROM audit.access_log") == before
        assert (
            one(
                conn,
                "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = 'audit' AND p.proname = 'append_link' "
                "AND has_function_privilege('healthlink_api', p.oid, 'EXECUTE')",
            )
            == 1
        )


@pytest.mark.parametrize(
    "statement",
    [
        "ALTER TABLE published.encounter_rows DISABLE ROW LEVEL SECURITY",
        "DROP POLICY consent_allows ON published.encounter_rows",
        "ALTER VIEW published.encounter SET (security_invoker = false)",
        "DELETE FROM published.encounter_rows",
        "CREATE OR REPLACE FUNCTION consent.per_visit_gate(varchar, varchar)"
        " RETURNS boolean LANGUAGE sql AS 'select true'",
    ],
)
def test_api_cannot_loosen_the_protection(rebuilt: SecuredWarehouse, statement: str) -> None:
    with connect(rebuilt.dsn(API)) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(statement)


def test_api_cannot_switch_row_security_off(rebuilt: SecuredWarehouse) -> None:
    """row_security = off makes a query fail instead of bypassing the policies."""
    with connect(rebuilt.dsn(API)) as conn:
        conn.execute("SET row_security = off")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM published.encounter_rows")


def test_no_service_role_is_privileged(rebuilt: SecuredWarehouse) -> None:
    with connect(rebuilt.dsn()) as conn:
        rows = conn.execute(
            "SELECT rolname, rolsuper, rolbypassrls, rolcreaterole, rolcanlogin FROM pg_roles"
            " WHERE rolname = ANY(%s) ORDER BY rolname",
            [list(SERVICE_ROLES)],
        ).fetchall()
    assert sorted(r[0] for r in rows) == sorted(SERVICE_ROLES)
    assert all(row[1:] == (False, False, False, True) for row in rows), rows


def test_api_owns_nothing_it_reads(rebuilt: SecuredWarehouse) -> None:
    with connect(rebuilt.dsn()) as conn:
        # Its own tables in api (migration 007) carry TOAST tables in pg_toast, owned alike; a
        # TOAST table's owner is its table's, so a table it owned elsewhere still shows here.
        owned = conn.execute(
            "SELECT n.nspname || '.' || c.relname FROM pg_class AS c"
            " JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE c.relowner = %s::regrole AND n.nspname NOT IN ('api', 'pg_toast')",
            [API],
        ).fetchall()
        readable = conn.execute(
            "SELECT c.oid::regclass::text, pg_get_userbyid(c.relowner) FROM pg_class AS c"
            " JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname NOT IN ('api', 'pg_catalog',"
            " 'information_schema') AND has_table_privilege(%s, c.oid, 'SELECT')",
            [API],
        ).fetchall()
    assert owned == []
    # The API reads the published relations only, all owned by the transformer.
    assert readable and all(name.startswith("published.") for name, _ in readable), readable
    assert {owner for _, owner in readable} == {"healthlink_transformer"}


def test_every_table_with_patient_data_forces_row_security(rebuilt: SecuredWarehouse) -> None:
    with connect(rebuilt.dsn()) as conn:
        tables = conn.execute(
            "SELECT c.oid::regclass::text, c.relrowsecurity, c.relforcerowsecurity"
            " FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY(%s)"
            " AND EXISTS (SELECT FROM pg_attribute AS a WHERE a.attrelid = c.oid"
            " AND a.attname = 'patient_key' AND NOT a.attisdropped)",
            [list(PATIENT_DATA_SCHEMAS)],
        ).fetchall()
    names = {name for name, _, _ in tables}
    assert {
        "raw.encounter",
        "marts.fct_encounter",
        "published.encounter_rows",
        "published.patient_rows",
        "consent.per_visit_grant",
    } <= names
    assert [t for t in tables if not (t[1] and t[2])] == []


def test_published_views_are_security_invoker(rebuilt: SecuredWarehouse) -> None:
    with connect(rebuilt.dsn()) as conn:
        views = conn.execute(
            "SELECT c.relname, coalesce(c.reloptions, '{}') FROM pg_class AS c"
            " JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'published' AND c.relkind = 'v'"
        ).fetchall()
    assert len(views) == 10  # nine categories and patient
    assert all("security_invoker=true" in options for _, options in views), views


def test_consent_functions_are_pinned_security_definers(rebuilt: SecuredWarehouse) -> None:
    with connect(rebuilt.dsn()) as conn:
        functions = conn.execute(
            "SELECT p.proname, p.prosecdef, p.provolatile, p.proconfig,"
            " pg_get_userbyid(p.proowner), has_function_privilege('public', p.oid, 'EXECUTE')"
            " FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'consent' ORDER BY p.proname"
        ).fetchall()
    # The row predicates come from dbt (the transformer owns them); the API's helpers
    # (withheld-hospital list, break-glass) and the purge's erasure of derived rows (the
    # loader's, migration 013) come from the migration.
    predicates = {"patient_visible", "per_visit_gate", "row_allowed"}
    api_helpers = {"patient_sources", "open_break_glass"}
    pipeline_helpers = {"erase_derived_rows"}
    assert {f[0] for f in functions} == predicates | api_helpers | pipeline_helpers
    for name, definer, volatility, config, owner, public_execute in functions:
        assert definer and not public_execute, name
        assert config == ["search_path=pg_catalog, pg_temp"], name
        if name in predicates:
            assert volatility == "s" and owner == "healthlink_transformer", name


def test_raw_functions_are_pinned_security_definers_for_the_loader(
    rebuilt: SecuredWarehouse,
) -> None:
    """raw.refresh_statistics (migration 014) ANALYZEs as the raw tables' owner: only the
    loader may call it."""
    with connect(rebuilt.dsn()) as conn:
        functions = conn.execute(
            "SELECT p.oid::regprocedure::text, p.prosecdef, p.proconfig,"
            " pg_get_userbyid(p.proowner) = pg_get_userbyid(c.relowner),"
            " has_function_privilege('public', p.oid, 'EXECUTE'),"
            " array(SELECT r FROM unnest(%s::text[]) AS r"
            "       WHERE has_function_privilege(r, p.oid, 'EXECUTE') ORDER BY r)"
            " FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace"
            " CROSS JOIN pg_class AS c WHERE n.nspname = 'raw' AND c.oid = 'raw.encounter'::regclass",
            [list(SERVICE_ROLES)],
        ).fetchall()
    assert functions == [
        (
            "raw.refresh_statistics(text)",
            True,
            ["search_path=pg_catalog, pg_temp"],
            True,
            False,
            ["healthlink_loader"],
        )
    ]


def test_rebuild_keeps_rows_hidden(rebuilt: SecuredWarehouse) -> None:
    with connect(rebuilt.dsn(API)) as conn:
        assert one(conn, "SELECT count(*) FROM published.encounter") == VISIBLE_ENCOUNTERS
        assert one(conn, "SELECT count(*) FROM published.encounter_rows") == VISIBLE_ENCOUNTERS
    with connect(rebuilt.dsn()) as conn:  # the superuser reads past RLS: the rows are there
        assert one(conn, "SELECT count(*) FROM published.encounter_rows") > VISIBLE_ENCOUNTERS


def test_migration_is_idempotent(rebuilt: SecuredWarehouse) -> None:
    from warehouse.storage import migrations

    with psycopg.connect(rebuilt.dsn()) as conn:
        migrations.apply(conn)
        migrations.apply(conn)
    with connect(rebuilt.dsn(API)) as conn:
        assert one(conn, "SELECT count(*) FROM published.encounter") == VISIBLE_ENCOUNTERS


def test_loader_may_only_read_and_delete_marts_rows(rebuilt: SecuredWarehouse) -> None:
    """The daily purge runs as the loader (migrations/008, secure_internal): select and
    delete on every marts table, never insert or update, nothing in intermediate."""
    with connect(rebuilt.dsn()) as conn:
        privileges = conn.execute(
            "SELECT c.oid::regclass::text, n.nspname,"
            " has_table_privilege('healthlink_loader', c.oid, 'SELECT'),"
            " has_table_privilege('healthlink_loader', c.oid, 'DELETE'),"
            " has_table_privilege('healthlink_loader', c.oid, 'INSERT, UPDATE, TRUNCATE')"
            " FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p') AND n.nspname IN ('intermediate', 'marts')"
        ).fetchall()
    marts = [p for p in privileges if p[1] == "marts"]
    assert "marts.fct_encounter" in {p[0] for p in marts}
    assert all(p[2] and p[3] and not p[4] for p in marts), marts
    assert [p for p in privileges if p[1] == "intermediate" and (p[2] or p[3] or p[4])] == []
    with connect(rebuilt.dsn("healthlink_loader")) as conn:
        assert one(conn, "SELECT count(*) FROM marts.fct_encounter") > 0
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("UPDATE marts.fct_encounter SET patient_key = patient_key")


def test_ops_reads_code_coverage_and_no_other_mart(rebuilt: SecuredWarehouse) -> None:
    """healthlink_ops (the ops report and page) reads marts.rpt_unmapped_codes, every row
    of it through its FORCE RLS (macros/ops_reads.sql), and nothing else dbt builds."""
    with connect(rebuilt.dsn()) as conn:
        readable = conn.execute(
            "SELECT c.oid::regclass::text FROM pg_class AS c"
            " JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p', 'v', 'm') AND n.nspname = ANY(%s)"
            " AND has_table_privilege(%s, c.oid, 'SELECT')",
            [["reference", *PATIENT_DATA_SCHEMAS], OPS],
        ).fetchall()
        counted = one(conn, "SELECT count(*) FROM marts.rpt_unmapped_codes")
    assert readable == [("marts.rpt_unmapped_codes",)]
    assert counted > 0
    with connect(rebuilt.dsn(OPS)) as conn:
        assert one(conn, "SELECT count(*) FROM marts.rpt_unmapped_codes") == counted
    for relation in ("marts.fct_diagnosis", "marts.fct_encounter", "marts.dim_patient"):
        with connect(rebuilt.dsn(OPS)) as conn, pytest.raises(errors.InsufficientPrivilege):
            conn.execute(f"SELECT count(*) FROM {relation}")
