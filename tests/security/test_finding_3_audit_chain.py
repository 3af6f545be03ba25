"""Finding 3 (issue 9): the audit can no longer be rewritten unseen by a warehouse writer.

Each case is one of the finding's: a writer with full access to the audit table (the DuckDB
file; PostgreSQL's administrative role, i.e. a DBA) deletes, changes, renumbers or forges
rows and recomputes whatever chain it can, and may rewrite the head file too. It does not
have HEALTHLINK_AUDIT_KEY, which never enters the database. `healthlink audit verify` runs
as a real CLI process and must exit non-zero. On PostgreSQL the rows are appended as the
API's own role (healthlink_api), through the definer functions of migration 009.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.machine import REPO, TEST_AUDIT_KEY, throwaway_pg_database
from warehouse.audit import trail as audit
from warehouse.settings import Settings
from warehouse.storage.connection import WarehouseConnection, connect
from warehouse.storage.schema import setup_schema

ATTACKER_KEY = b"the attacker does not have the audit key"


@dataclass
class Log:
    settings: Settings
    env: dict[str, str]

    @property
    def sink(self) -> Path:
        return self.settings.audit_head_sink_path

    def verify(self) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "warehouse.cli.main", "audit", "verify"],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )


def _settings(home: Path, warehouse: str) -> Settings:
    return Settings(
        home=home,
        warehouse=warehouse,
        environment="test",
        audit_key=TEST_AUDIT_KEY,  # type: ignore[arg-type]
    )


def _env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "HEALTHLINK_HOME": str(settings.home),
        "HEALTHLINK_WAREHOUSE": settings.warehouse,
        "HEALTHLINK_ENVIRONMENT": "test",
        "HEALTHLINK_AUDIT_KEY": TEST_AUDIT_KEY,
    }


ENTRIES = [
    audit.AuditEntry(
        action="record",
        outcome="ok",
        physician_licence="30001",
        physician_hospital_code="12345",
        patient_key=f"{1:032x}",
    ),
    audit.AuditEntry(
        action="break_glass_record",
        outcome="ok",
        physician_licence="30002",
        physician_hospital_code="12345",
        patient_key=f"{2:032x}",
        break_glass=True,
        purpose="emergency",
        reason="unconscious on arrival, no relatives",
    ),
    audit.AuditEntry(
        action="record",
        outcome="ok",
        physician_licence="30001",
        physician_hospital_code="12345",
        patient_key=f"{3:032x}",
    ),
    audit.AuditEntry(
        action="break_glass_record",
        outcome="ok",
        physician_licence="30002",
        physician_hospital_code="12345",
        patient_key=f"{4:032x}",
        break_glass=True,
        purpose="emergency",
        reason="cardiac arrest in the emergency room",
    ),
    audit.AuditEntry(
        action="search_by_id",
        outcome="ok",
        physician_licence="30001",
        physician_hospital_code="12345",
        returned_patients=[f"{5:032x}"],
    ),
]


def _append_as_api(settings: Settings, entries: list[audit.AuditEntry]) -> None:
    """As the API does it: append in a transaction, export the head after the commit."""
    trail = audit.AuditTrail(TEST_AUDIT_KEY.encode(), settings.audit_head_sink_path)
    with _api_connection(settings) as conn:
        for entry in entries:
            with conn.transaction():
                trail.append(conn, entry)
            trail.export_committed()


class _api_connection:
    """PostgreSQL: the API's role (no privilege on the log itself); DuckDB: the file."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __enter__(self) -> WarehouseConnection:
        if self.settings.uses_postgres:
            from warehouse.settings import url_for_role
            from warehouse.storage.pool import API_ROLE
            from warehouse.storage.postgres import PostgresConnection, open_postgres

            self._pg = PostgresConnection(
                open_postgres(url_for_role(self.settings.warehouse, API_ROLE))
            )
            return self._pg
        self._cm = connect(self.settings)
        return self._cm.__enter__()

    def __exit__(self, *exc: Any) -> None:
        if self.settings.uses_postgres:
            self._pg.raw.close()
        else:
            self._cm.__exit__(*exc)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "duckdb":
        yield ""
        return
    with throwaway_pg_database("healthlink_finding3") as url:
        yield url


@pytest.fixture
def log(tmp_path: Path, warehouse_url: str) -> Log:
    """Anchor + five keyed rows (two break-glass), each head exported after its commit."""
    settings = _settings(tmp_path / "home", warehouse_url)
    with connect(settings) as conn:
        setup_schema(conn)  # creates the schema (PostgreSQL: runs the migration)
    _append_as_api(settings, ENTRIES)
    return Log(settings, _env(settings))


# -- the writer's tools: full access to the table, no key --------------------------------------


def _rows(settings: Settings) -> list[dict[str, Any]]:
    with connect(settings) as conn:
        return audit.read_rows(conn)


def _rewrite(settings: Settings, rows: list[dict[str, Any]]) -> None:
    """Replace the whole log with `rows` (what a DBA can do)."""
    columns = [*audit.CHAINED_COLUMNS, "row_hash"]
    overriding = "OVERRIDING SYSTEM VALUE " if settings.uses_postgres else ""
    with connect(settings) as conn, conn.transaction():
        conn.execute("DELETE FROM audit.access_log")
        for row in rows:
            conn.execute(
                f"INSERT INTO audit.access_log ({', '.join(columns)}) {overriding}"
                f"VALUES ({', '.join('?' for _ in columns)})",
                [row[c] for c in columns],
            )


def _rechain(rows: list[dict[str, Any]], hasher: Any) -> list[dict[str, Any]]:
    """Renumber from 1 and recompute every link and hash with the attacker's hasher."""
    prev = audit.GENESIS_HASH
    out = []
    for seq, row in enumerate(rows, start=1):
        row = row | {"access_id": seq, "prev_hash": prev}
        row["row_hash"] = hasher(prev, row)
        prev = row["row_hash"]
        out.append(row)
    return out


def _attacker_hmac(prev: str, row: dict[str, Any]) -> str:
    return audit.keyed_chain_hash(ATTACKER_KEY, prev, row)


def _rewrite_head_file(log: Log, rows: list[dict[str, Any]]) -> None:
    """A head file consistent with `rows`, signed with what the attacker has."""
    prev_mac = audit.GENESIS_HASH
    lines = []
    for row in rows:
        line = {
            "seq": row["access_id"],
            "row_hash": row["row_hash"],
            "exported_at": "2026-12-01T00:00:00.000000+00:00",
            "prev_mac": prev_mac,
        }
        message = json.dumps(
            [line["seq"], line["row_hash"], line["exported_at"], line["prev_mac"]],
            separators=(",", ":"),
        ).encode()
        line["mac"] = hmac.new(ATTACKER_KEY, message, hashlib.sha256).hexdigest()
        prev_mac = line["mac"]
        lines.append(json.dumps(line, separators=(",", ":")))
    log.sink.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _assert_detected(log: Log, *fragments: str) -> None:
    result = log.verify()
    assert result.returncode != 0, result.stdout + result.stderr
    for fragment in fragments:
        assert fragment in result.stdout, result.stdout


# -- the cases -------------------------------------------------------------------------------


def test_finding_3_untouched_log_verifies(log: Log) -> None:
    result = log.verify()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 records, ok" in result.stdout  # the anchor and the five entries


def test_finding_3_every_append_exports_a_head(log: Log) -> None:
    lines = [json.loads(x) for x in log.sink.read_text("utf-8").splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4, 5, 6]
    assert [r["row_hash"] for r in _rows(log.settings)] == [line["row_hash"] for line in lines]


def test_finding_3_deleting_the_last_row_is_detected(log: Log) -> None:
    with connect(log.settings) as conn:
        conn.execute("DELETE FROM audit.access_log WHERE access_id = 6")
    _assert_detected(log, "exported head 6 is beyond the last record 5 (truncated)")


def test_finding_3_deleting_a_tail_of_rows_is_detected(log: Log) -> None:
    with connect(log.settings) as conn:
        conn.execute("DELETE FROM audit.access_log WHERE access_id >= 3")
    _assert_detected(log, "exported head 6 is beyond the last record 2 (truncated)")


def test_finding_3_a_changed_row_anywhere_is_detected(log: Log) -> None:
    with connect(log.settings) as conn:
        conn.execute("UPDATE audit.access_log SET outcome = 'not_found' WHERE access_id = 3")
    _assert_detected(log, "record 3: content does not match its keyed hash (modified)")


def test_finding_3_a_rewritten_last_row_with_recomputed_chain_is_detected(log: Log) -> None:
    """The last row changed and re-hashed (unkeyed, or keyed with a guessed key)."""
    for hasher in (audit.legacy_chain_hash, _attacker_hmac):
        rows = _rows(log.settings)
        rows[-1] = rows[-1] | {"outcome": "not_found", "categories": ""}
        rows[-1]["row_hash"] = hasher(rows[-1]["prev_hash"], rows[-1])
        _rewrite(log.settings, rows)
        _assert_detected(log, "record 6: content does not match its keyed hash (modified)")


def test_finding_3_rows_forged_after_the_last_export_are_detected(log: Log) -> None:
    """A writer appends rows of its own after the last exported head, chained as well as it
    can without the key."""
    rows = _rows(log.settings)
    forged = rows[-1] | {"access_id": 7, "prev_hash": rows[-1]["row_hash"], "action": "record"}
    forged["row_hash"] = _attacker_hmac(forged["prev_hash"], forged)
    _rewrite(log.settings, [*rows, forged])
    _assert_detected(log, "record 7: content does not match its keyed hash (modified)")


def test_finding_3_renumbering_is_detected(log: Log) -> None:
    rows = _rows(log.settings)
    del rows[2]  # one row gone, the rest renumbered, links and hashes kept as they were
    renumbered = [r | {"access_id": i} for i, r in enumerate(rows, start=1)]
    _rewrite(log.settings, renumbered)
    _assert_detected(log, "content does not match its keyed hash (modified)")


def test_finding_3_removed_break_glass_rows_renumbered_with_rewritten_heads_detected(
    log: Log,
) -> None:
    """The finding's full attack: the break-glass rows deleted, the rest renumbered and
    re-chained, the head file rewritten to match (as well as possible without the key)."""
    kept = [r for r in _rows(log.settings) if not r["break_glass"]]
    for hasher in (audit.legacy_chain_hash, _attacker_hmac):
        rows = _rechain(kept, hasher)
        _rewrite(log.settings, rows)
        _rewrite_head_file(log, rows)
        _assert_detected(
            log,
            "content does not match its keyed hash (modified)",
            "head file line 1: signature invalid (rewritten)",
        )


def test_finding_3_a_rewritten_head_line_is_detected(log: Log) -> None:
    lines = log.sink.read_text("utf-8").splitlines()
    changed = json.loads(lines[2]) | {"row_hash": "f" * 64}
    lines[2] = json.dumps(changed, separators=(",", ":"))
    log.sink.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _assert_detected(log, "head file line 3: signature invalid (rewritten)")


def test_finding_3_a_removed_head_line_is_detected(log: Log) -> None:
    lines = log.sink.read_text("utf-8").splitlines()
    del lines[2]
    log.sink.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _assert_detected(log, "head file line 3: not linked to the line before (removed)")


# -- upgrade: the unkeyed chain of migration 006 is anchored into the keyed one ---------------


@pytest.fixture
def upgraded(tmp_path: Path, warehouse_url: str) -> Log:
    """Three rows chained as migration 006 did (unkeyed sha256), then keyed appends."""
    settings = _settings(tmp_path / "home", warehouse_url)
    with connect(settings) as conn:
        setup_schema(conn)  # creates the schema (PostgreSQL: runs the migration)
    legacy = []
    prev = audit.GENESIS_HASH
    now = datetime.now(UTC)
    now = now if settings.uses_postgres else now.replace(tzinfo=None)
    for seq, entry in enumerate(ENTRIES[:3], start=1):
        row = audit._row(seq, prev, entry, now)
        row["row_hash"] = audit.legacy_chain_hash(prev, row)
        prev = row["row_hash"]
        legacy.append(row)
    _rewrite(settings, legacy)
    _append_as_api(settings, ENTRIES[3:])
    return Log(settings, _env(settings))


def test_finding_3_upgrade_anchors_the_unkeyed_chain(upgraded: Log) -> None:
    rows = _rows(upgraded.settings)
    anchor = rows[3]
    assert anchor["action"] == audit.ANCHOR_ACTION
    assert json.loads(anchor["reason"]) == {"legacy_seq": 3, "legacy_hash": rows[2]["row_hash"]}
    assert [r["access_id"] for r in rows] == [1, 2, 3, 4, 5, 6]
    result = upgraded.verify()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 records, ok" in result.stdout


def test_finding_3_a_changed_unkeyed_row_is_detected_after_the_upgrade(upgraded: Log) -> None:
    """Recomputing the whole unkeyed part does not help: the anchor pinned its last hash."""
    rows = _rows(upgraded.settings)
    legacy = [r | {"outcome": "not_found"} if r["access_id"] == 2 else r for r in rows[:3]]
    rows = _rechain(legacy, audit.legacy_chain_hash) + rows[3:]
    _rewrite(upgraded.settings, rows)
    _assert_detected(
        upgraded, "record 4: the unkeyed records before it differ from what it anchored"
    )
