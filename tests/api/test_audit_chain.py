"""The keyed audit chain's plumbing on both warehouses: the API role appends only through the
definer functions (PostgreSQL), the key is refused when it is the development one, and
`healthlink audit break-glass` lists emergency accesses for review. The tamper cases are in
tests/security/test_finding_3_audit_chain.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.machine import REPO, TEST_AUDIT_KEY, throwaway_pg_database
from warehouse.audit import trail as audit
from warehouse.settings import DEVELOPMENT_AUDIT_KEY, Settings
from warehouse.storage.connection import connect
from warehouse.storage.schema import setup_schema


def _make(home: Path, url: str) -> Settings:
    settings = Settings(
        home=home,
        warehouse=url,
        environment="test",
        audit_key=TEST_AUDIT_KEY,  # type: ignore[arg-type]
    )
    with connect(settings) as conn:
        setup_schema(conn)  # the audit tables too (PostgreSQL: with their definer functions)
    return settings


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "duckdb":
        yield _make(tmp_path / "home", "")
        return
    with throwaway_pg_database("healthlink_audit_test") as url:
        yield _make(tmp_path / "home", url)


@pytest.fixture
def pg_settings(tmp_path: Path) -> Iterator[Settings]:
    with throwaway_pg_database("healthlink_audit_test") as url:
        yield _make(tmp_path / "home", url)


def _cli(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "warehouse.cli.main", "audit", *args],
        cwd=REPO,
        env={
            **os.environ,
            "HEALTHLINK_HOME": str(settings.home),
            "HEALTHLINK_WAREHOUSE": settings.warehouse,
            "HEALTHLINK_ENVIRONMENT": "test",
            "HEALTHLINK_AUDIT_KEY": TEST_AUDIT_KEY,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=300,
    )


def _append(settings: Settings, *entries: audit.AuditEntry) -> None:
    trail = audit.AuditTrail.from_settings(settings)
    with connect(settings) as conn:
        for entry in entries:
            with conn.transaction():
                trail.append(conn, entry)
            trail.export_committed()


def test_break_glass_review_lists_emergency_accesses_since_a_day(settings: Settings) -> None:
    reason = "unconscious on arrival [bold]no[/bold] relatives"  # not rich markup
    _append(
        settings,
        audit.AuditEntry(action="record", outcome="ok", physician_licence="30001"),
        audit.AuditEntry(
            action="break_glass_record",
            outcome="ok",
            physician_licence="30002",
            physician_hospital_code="12345",
            patient_key="a" * 32,
            source_hospitals=["22222", "11111"],
            purpose="emergency",
            break_glass=True,
            reason=reason,
        ),
    )
    listed = _cli(settings, "break-glass", "--since", "2020-01-01", "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert {k: row[k] for k in ("licence", "hospital", "patient_key", "reason")} == {
        "licence": "30002",
        "hospital": "12345",
        "patient_key": "a" * 32,
        "reason": reason,
    }
    assert row["source_hospitals"] == ["11111", "22222"]
    assert row["time"].endswith("+07:00")
    table = _cli(settings, "break-glass", "--since", "2020-01-01")
    assert table.returncode == 0, table.stderr
    assert "30002" in table.stdout and "[bold]no[/bold]" in table.stdout
    tomorrow = datetime.now(UTC).date().replace(year=datetime.now(UTC).year + 1).isoformat()
    later = _cli(settings, "break-glass", "--since", tomorrow, "--json")
    assert json.loads(later.stdout) == []
    bad = _cli(settings, "break-glass", "--since", "yesterday")
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr and "Traceback" not in bad.stderr


def test_verify_refuses_the_development_key_outside_development(settings: Settings) -> None:
    result = _cli(settings, "verify", HEALTHLINK_AUDIT_KEY=DEVELOPMENT_AUDIT_KEY)
    assert result.returncode == 2
    assert "HEALTHLINK_AUDIT_KEY must be set" in result.stderr
    assert "Traceback" not in result.stderr
    with pytest.raises(audit.AuditKeyError):
        audit.signing_key(
            Settings(environment="production", audit_key=DEVELOPMENT_AUDIT_KEY)  # type: ignore[arg-type]
        )
    development = Settings(environment="development", audit_key=DEVELOPMENT_AUDIT_KEY)  # type: ignore[arg-type]
    assert audit.signing_key(development) == DEVELOPMENT_AUDIT_KEY.encode()


@pytest.mark.postgres
def test_api_role_appends_through_the_functions_only(pg_settings: Settings) -> None:
    """healthlink_api: EXECUTE on next_link/append_link; no privilege on the log itself; an
    append that does not extend the head is refused; the old unkeyed function is gone."""
    settings = pg_settings
    import psycopg

    from warehouse.settings import url_for_role
    from warehouse.storage.pool import API_ROLE
    from warehouse.storage.postgres import PostgresConnection, open_postgres

    _append(settings, audit.AuditEntry(action="record", outcome="ok"))
    api = PostgresConnection(open_postgres(url_for_role(settings.warehouse, API_ROLE)))
    trail = audit.AuditTrail.from_settings(settings)
    try:
        with api.transaction():
            assert trail.append(api, audit.AuditEntry(action="record", outcome="ok")) == 3
        assert audit.current_head(api)[0] == 3
        for statement in (
            "SELECT count(*) FROM audit.access_log",
            "UPDATE audit.access_log SET outcome = 'x'",
            "DELETE FROM audit.access_log",
            "TRUNCATE audit.access_log",
            "INSERT INTO audit.access_log (action) VALUES ('forged')",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                api.execute(statement)
        with pytest.raises(psycopg.errors.UndefinedFunction):
            api.execute(
                "SELECT audit.append_access('record', 'ok', null, null, null, null, "
                "null, null, null, false, null)"
            )
        stale = audit._row(
            2, "0" * 64, audit.AuditEntry(action="x", outcome="ok"), datetime.now(UTC)
        )
        stale["row_hash"] = "f" * 64
        with pytest.raises(psycopg.errors.RaiseException), api.transaction():
            audit._insert(api, stale)  # sequence 2 is taken: not the next link
    finally:
        api.raw.close()
    result = _cli(settings, "verify")
    assert result.returncode == 0, result.stdout
