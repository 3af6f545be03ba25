"""`healthlink audit verify` detects a modified, a deleted and a truncated record, on the DuckDB
file and on PostgreSQL (where rows are appended by audit.append_access, migration 006, and
the API role can neither read nor change them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import throwaway_pg_database
from warehouse import audit
from warehouse.audit_cli import app, head_dir
from warehouse.db import connect
from warehouse.settings import Settings, get_settings


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "duckdb":
        yield ""
        return
    with throwaway_pg_database("healthlink_audit_test") as url:
        yield url


@pytest.fixture
def audited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse_url: str
) -> Iterator[Settings]:
    """Five audit rows, the head exported after the fifth."""
    monkeypatch.setenv("HEALTHLINK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HEALTHLINK_ENVIRONMENT", "test")
    monkeypatch.setenv("HEALTHLINK_WAREHOUSE", warehouse_url)
    get_settings.cache_clear()
    settings = get_settings()
    with connect(settings) as conn:
        audit.ensure_audit_schema(conn)
        for n in range(5):
            with conn.transaction():
                audit.append(
                    conn,
                    audit.AuditEntry(
                        action="record",
                        outcome="ok",
                        physician_licence="30001",
                        physician_hospital_code="12345",
                        patient_key=f"{n:032x}",
                        categories=["diagnoses"],
                        source_hospitals=["11111", "22222"],
                    ),
                )
        audit.export_head(conn, head_dir(settings.home))
    yield settings
    get_settings.cache_clear()


def _verify() -> tuple[int, str]:
    result = CliRunner().invoke(app, ["verify"])
    return result.exit_code, result.output


def _tamper(settings: Settings, sql: str) -> None:
    with connect(settings) as conn:
        conn.execute(sql)


def test_intact_chain_verifies(audited: Settings) -> None:
    code, output = _verify()
    assert code == 0, output
    assert "5 records, ok" in output


def test_modified_record_is_detected(audited: Settings) -> None:
    _tamper(audited, "UPDATE audit.access_log SET outcome = 'not_found' WHERE access_id = 3")
    code, output = _verify()
    assert code == 1
    assert "record 3: content does not match its hash (modified)" in output


def test_deleted_record_is_detected(audited: Settings) -> None:
    _tamper(audited, "DELETE FROM audit.access_log WHERE access_id = 2")
    code, output = _verify()
    assert code == 1
    assert "sequence 2 to 2 (deleted)" in output
    assert "record 3: link to the previous record is broken" in output


def test_truncated_chain_is_detected_against_the_exported_head(audited: Settings) -> None:
    _tamper(audited, "DELETE FROM audit.access_log WHERE access_id >= 4")
    code, output = _verify()
    assert code == 1
    assert "exported head 5 is beyond the last record 3 (truncated)" in output


def test_rewritten_tail_is_detected_against_the_exported_head(audited: Settings) -> None:
    """Re-hashing a modified last row keeps the chain consistent; the exported head does not."""
    with connect(audited) as conn:
        row = audit.read_rows(conn)[-1] | {"outcome": "denied"}
        new_hash = audit.chain_hash(row["prev_hash"], row)
        conn.execute(
            "UPDATE audit.access_log SET outcome = 'denied', row_hash = ? WHERE access_id = 5",
            [new_hash],
        )
    code, output = _verify()
    assert code == 1
    assert "record 5: hash differs from the exported head (modified)" in output


@pytest.mark.postgres
def test_api_role_appends_through_the_function_only(audited: Settings) -> None:
    """healthlink_api: EXECUTE on the append function; no INSERT, SELECT, UPDATE, DELETE or
    TRUNCATE on the log itself; its rows join the same chain."""
    if not audited.uses_postgres:
        pytest.skip("roles exist on PostgreSQL only")
    import psycopg

    from warehouse.api.postgres import API_ROLE, url_for_role
    from warehouse.postgres.connection import PostgresConnection, open_postgres

    api = PostgresConnection(open_postgres(url_for_role(audited.warehouse, API_ROLE)))
    try:
        with api.transaction():
            seq = audit.append(api, audit.AuditEntry(action="record", outcome="ok"))
        assert seq == 6
        assert audit.current_head(api)[0] == 6
        for statement in (
            "SELECT count(*) FROM audit.access_log",
            "UPDATE audit.access_log SET outcome = 'x'",
            "DELETE FROM audit.access_log",
            "TRUNCATE audit.access_log",
            "INSERT INTO audit.access_log (action) VALUES ('forged')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                api.execute(statement)
    finally:
        api.raw.close()
    code, output = _verify()
    assert code == 0, output
