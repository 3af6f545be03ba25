"""The daily sync's prepare step (consent's effects) and the load's statistics refresh
connected as the loader, as in production.

Every other test connects as the superuser, which passes every grant and RLS policy. Here the
migration role creates and secures the warehouse, dbt builds it as the transformer, and
`prepare_run` runs as healthlink_loader: hospitals joining, expiring per-visit requests and
the purge of a withdrawn patient from raw and marts must all work with the loader's rights.
So must the ANALYZE after a load, although the loader owns no raw table (issue 11).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest
import yaml
from psycopg import errors

from tests.support.machine import PG_SERVER as SERVER
from tests.support.raw_fixture import DAY1, H1, H2, H3, P_ALL, P_HOSPITAL, P_NETWORK, P_WITHDRAWN
from tests.support.secured_warehouse import SecuredWarehouse
from tests.support.service_roles import connect, one
from warehouse.settings import Settings
from warehouse.storage.migrations import SERVICE_ROLES

pytestmark = pytest.mark.postgres

LOADER = "healthlink_loader"
EXTRACT_DAY = dt.date(2025, 1, 12)
NETWORKS = {H1: "NET01", H2: "NET01", H3: "NET02"}


def _url(dbname: str, user: str) -> str:
    password = SERVER["password"] if user == SERVER["user"] else ""
    credentials = f"{user}:{password}" if password else user
    return f"postgresql://{credentials}@{SERVER['host']}:{SERVER['port']}/{dbname}"


def _write_registry(directory: Path) -> Path:
    """The fixture's three hospitals, all participating before the extract day."""
    (directory / "hospitals").mkdir(parents=True)
    networks = [
        {"code": code, "name": f"Network {code}", "consent_type": "one_time"}
        for code in sorted(set(NETWORKS.values()))
    ]
    (directory / "networks.yml").write_text(yaml.safe_dump({"networks": networks}))
    for code, network in NETWORKS.items():
        hospital = {
            "hospital_code": code,
            "name": f"Hospital {code}",
            "network": network,
            "health_region": 4,
            "participating_since": "2025-01-01",
            "per_visit_consent": None,
            "schedule": "0 2 * * *",
            "reject_threshold": 0.05,
            "connector": {"kind": "file43", "path": f"extracts/{code}", "encoding": "utf-8"},
            "contacts": [{"name": "Data team", "role": "data_engineer", "email": "d@example.org"}],
        }
        (directory / "hospitals" / f"{code}.yml").write_text(yaml.safe_dump(hospital))
    return directory


def _migrate(warehouse: SecuredWarehouse) -> None:
    """`healthlink migrate` as the migration role: it also creates the consent service's
    tables, so the loader never has to."""
    from warehouse.storage.postgres import PostgresConnection, open_postgres
    from warehouse.storage.schema import ensure_schema

    raw = open_postgres(_url(warehouse.dbname, SERVER["user"]))
    try:
        ensure_schema(PostgresConnection(raw))
    finally:
        raw.close()


def _stored_rows(conn: psycopg.Connection[Any], patient_key: str) -> dict[str, int]:
    """The patient's rows per raw and marts table (read as the superuser, past RLS)."""
    from warehouse.consent.purge import purgeable_tables

    class _Executor:  # purgeable_tables speaks the warehouse connection's execute()
        def execute(self, sql: str) -> Any:
            return conn.execute(sql)

    found = {}
    for table, _column in purgeable_tables(_Executor()):
        count = one(conn, f"SELECT count(*) FROM {table} WHERE patient_key = %s", [patient_key])
        if count:
            found[table] = count
    return found


def _pending_request(conn: psycopg.Connection[Any], patient_key: str) -> None:
    """A per-visit request whose day ended yesterday (expires_at is naive UTC)."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    conn.execute(
        "INSERT INTO consent.per_visit_request (request_id, physician_licence,"
        " physician_hospital_code, patient_key, source_hospitals, status, requested_at,"
        " decided_at, expires_at) VALUES ('req-expired', 'MD-1', %s, %s, %s, 'pending', %s,"
        " NULL, %s)",
        [H1, patient_key, json.dumps([H3]), now - dt.timedelta(days=2), now - dt.timedelta(days=1)],
    )


def test_prepare_run_as_loader_applies_every_consent_effect(
    secured: SecuredWarehouse, tmp_path: Path
) -> None:
    from warehouse.pipeline.daily_run import prepare_run

    _migrate(secured)
    with connect(secured.dsn()) as conn:
        before = _stored_rows(conn, P_WITHDRAWN)
        _pending_request(conn, P_WITHDRAWN)
        conn.commit()
    assert any(t.startswith("raw.") for t in before), before
    assert any(t.startswith("marts.") for t in before), before

    settings = Settings(
        warehouse=_url(secured.dbname, LOADER),
        home=tmp_path / "home",
        registry_dir=_write_registry(tmp_path / "registry"),
    )
    participating = prepare_run(EXTRACT_DAY, settings=settings)

    assert sorted(participating) == [H1, H2, H3]
    with connect(secured.dsn()) as conn:
        assert _stored_rows(conn, P_WITHDRAWN) == {}
        # One purge: the first of this warehouse, so a full comparison.
        rows_raw, rows_marts, detail = one(
            conn, "SELECT rows_raw, rows_marts, detail FROM consent.purge_log"
        )
        withdrawn_raw = sum(n for t, n in before.items() if t.startswith("raw."))
        withdrawn_marts = sum(n for t, n in before.items() if t.startswith("marts."))
        # Other patients' disallowed pairs (a LIST chooser's other hospitals) go too.
        assert rows_raw >= withdrawn_raw and rows_marts >= withdrawn_marts
        assert set(json.loads(detail)) >= set(before)
        joined = conn.execute(
            "SELECT payload FROM consent.event WHERE event_type = 'hospital_joined'"
        ).fetchall()
        assert sorted(json.loads(p)["hospital_code"] for (p,) in joined) == [H1, H2, H3]
        assert one(conn, "SELECT count(*) FROM consent.notification") >= 1
        assert (
            one(
                conn,
                "SELECT status FROM consent.per_visit_request WHERE request_id = 'req-expired'",
            )
            == "expired"
        )
        assert (
            one(
                conn,
                "SELECT count(*) FROM consent.event WHERE event_type = 'per_visit_expired'"
                " AND patient_key = %s",
                [P_WITHDRAWN],
            )
            == 1
        )
        assert one(conn, "SELECT count(*) FROM ops.purge_checkpoint") == 1
        assert one(conn, "SELECT count(*) FROM ops.cohort_checkpoint") == 3


def _landed(warehouse: SecuredWarehouse, entity: str, directory: Path) -> Path:
    """The landing file of H1's day-one batch of `entity`, from the rows raw holds now."""
    from warehouse.storage.postgres import connect_postgres
    from warehouse.storage.schema import landed_schema

    schema = landed_schema(entity)
    columns = ", ".join(f'"{name}"' for name in schema.names)
    with connect_postgres(_url(warehouse.dbname, SERVER["user"])) as conn:
        rows = conn.query_arrow(
            f"SELECT {columns} FROM raw.{entity} WHERE hospital_code = ? AND extract_date = ?",
            [H1, DAY1],
        )
    assert rows.num_rows
    path = directory / f"{entity}.parquet"
    pq.write_table(rows.cast(schema), path)
    return path


def _last_analyze(warehouse: SecuredWarehouse, table: str) -> dt.datetime | None:
    """Read as the superuser on a fresh connection (no stats snapshot from earlier reads)."""
    with connect(warehouse.dsn()) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return one(
            conn,
            "SELECT last_analyze FROM pg_stat_user_tables WHERE relid = %s::regclass",
            [table],
        )


def test_refresh_statistics_as_loader_analyses_the_loaded_raw_table(
    secured: SecuredWarehouse, tmp_path: Path
) -> None:
    """Only a table's owner may ANALYZE it (PostgreSQL 15); as the loader a plain ANALYZE
    only warns and skips, so the load goes through raw.refresh_statistics (migration 014)."""
    from warehouse.pipeline.load import load_batch, refresh_statistics
    from warehouse.storage.postgres import connect_postgres

    files = {"encounter": _landed(secured, "encounter", tmp_path)}
    before = _last_analyze(secured, "raw.encounter")
    with connect(secured.dsn()) as conn:
        rows = one(conn, "SELECT count(*) FROM raw.encounter")

    with connect_postgres(_url(secured.dbname, LOADER)) as conn:
        assert one(conn.raw, "SELECT current_user") == LOADER
        with conn.transaction():
            load_batch(conn, files, H1, DAY1, dt.datetime(2025, 1, 11, 2, 0))
        assert refresh_statistics(conn, files) == ["encounter"]

    after = _last_analyze(secured, "raw.encounter")
    assert after is not None, "raw.encounter was not analysed"
    assert before is None or after > before
    with connect(secured.dsn()) as conn:
        assert one(conn, "SELECT count(*) FROM raw.encounter") == rows  # same batch again


@pytest.mark.parametrize(
    "name",
    [
        "consent.patient_consent",
        "patient_consent",  # a consent table's bare name
        "transform_pending",  # an ops table's
        "raw.encounter",  # an entity is a bare name
        "encounter; DROP TABLE raw.patient",
        'encounter"',
        "pg_class",
        "",
    ],
)
def test_loader_may_analyse_raw_tables_only(secured: SecuredWarehouse, name: str) -> None:
    with (
        connect(secured.dsn(LOADER)) as conn,
        pytest.raises(errors.InvalidParameterValue, match="not a raw table"),
    ):
        conn.execute("SELECT raw.refresh_statistics(%s)", [name])
    with connect(secured.dsn()) as conn:
        assert one(conn, "SELECT to_regclass('raw.patient') IS NOT NULL")


@pytest.mark.parametrize("role", sorted(set(SERVICE_ROLES) - {LOADER}))
def test_only_the_loader_may_refresh_raw_statistics(secured: SecuredWarehouse, role: str) -> None:
    with connect(secured.dsn(role)) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute("SELECT raw.refresh_statistics('encounter')")


def test_a_batch_reads_its_patients_consent_as_loader(
    secured: SecuredWarehouse, tmp_path: Path
) -> None:
    """The load's consent filter asks about the batch's patients only, with the loader's
    rights (an array of keys bound to the query)."""
    import pyarrow as pa

    from warehouse.pipeline.batch import BatchPatients, HospitalState

    _migrate(secured)
    settings = Settings(warehouse=_url(secured.dbname, LOADER), home=tmp_path / "home")
    asked = [P_ALL, P_NETWORK, P_WITHDRAWN, P_HOSPITAL, "0" * 32]
    # The fixture's keys stand for national IDs nobody needs here.
    patients = BatchPatients(pa.array([str(n) for n in range(len(asked))]), pa.array(asked))
    on_h1 = HospitalState.read(settings, H1, patients)
    assert set(on_h1.allowed.to_pylist()) == {P_ALL, P_NETWORK}  # P_HOSPITAL chose H3
    assert set(HospitalState.read(settings, H3, patients).allowed.to_pylist()) == {
        P_ALL,
        P_HOSPITAL,
    }
