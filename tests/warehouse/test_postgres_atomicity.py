"""A loader killed (SIGKILL) inside its PostgreSQL transaction leaves the previous batch.

The loader is the real `healthlink ingest` in a subprocess, paused by the documented test
hook HEALTHLINK_TEST_PAUSE_AFTER_DELETE right after it deleted the hospital's old rows.
Meanwhile another connection keeps counting that hospital's rows: every count it sees is
the old batch's or the new batch's, never anything in between.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.airflow_harness import BIN
from tests.support.machine import START, TEST_KEY, throwaway_pg_database
from tests.support.warehouse_batches import prepare
from warehouse.pipeline.batch import sync_batch
from warehouse.settings import Settings
from warehouse.storage.schema import ENTITIES

pytestmark = pytest.mark.postgres

HOSPITAL_TOTAL_SQL = " + ".join(
    f"(SELECT count(*) FROM raw.{entity} WHERE hospital_code = %s)" for entity in ENTITIES
)


@pytest.fixture
def pg_settings(tmp_path: Path, dataset: Path) -> Iterator[Settings]:
    with throwaway_pg_database("healthlink_kill_test") as url:
        yield Settings(
            home=tmp_path / "home",
            registry_dir=dataset / "registry",
            pseudonym_key=TEST_KEY,  # type: ignore[arg-type]
            environment="test",
            warehouse=url,
        )


class Reader(threading.Thread):
    """Counts the hospital's rows across raw, one snapshot per query, until stopped."""

    def __init__(self, url: str, hospital: str) -> None:
        super().__init__(daemon=True)
        self.conn = psycopg.connect(url, autocommit=True)
        self.hospital = hospital
        self.seen: set[int] = set()
        self.reads = 0
        self.stop = threading.Event()

    def total(self) -> int:
        row = self.conn.execute(
            f"SELECT {HOSPITAL_TOTAL_SQL}", [self.hospital] * len(ENTITIES)
        ).fetchone()
        return int(row[0]) if row else 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.seen.add(self.total())
            self.reads += 1

    def finish(self) -> set[int]:
        self.stop.set()
        self.join(timeout=30)
        self.conn.close()
        return self.seen


def _loader(settings: Settings, hospital: str, pause: float) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HEALTHLINK_WAREHOUSE": settings.warehouse,
        "HEALTHLINK_HOME": str(settings.home),
        "HEALTHLINK_REGISTRY_DIR": str(settings.registry_dir),
        "HEALTHLINK_PSEUDONYM_KEY": TEST_KEY,
        "HEALTHLINK_ENVIRONMENT": "test",
        "HEALTHLINK_TEST_PAUSE_AFTER_DELETE": str(pause),
    }
    return subprocess.Popen(
        [str(BIN / "healthlink"), "ingest", "--hospital", hospital, "--date", START.isoformat()],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_until_deleted(admin: psycopg.Connection, timeout: float = 120) -> int:
    """The loader's backend pid once it holds a row lock on raw (its DELETE ran)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = admin.execute(
            """SELECT a.pid FROM pg_locks AS l
               JOIN pg_class AS c ON c.oid = l.relation
               JOIN pg_namespace AS n ON n.oid = c.relnamespace
               JOIN pg_stat_activity AS a ON a.pid = l.pid
               WHERE n.nspname = 'raw' AND l.mode = 'RowExclusiveLock'
                 AND a.state = 'idle in transaction' AND l.pid <> pg_backend_pid()
               LIMIT 1"""
        ).fetchone()
        if row:
            return int(row[0])
        time.sleep(0.05)
    raise AssertionError("the loader never reached its delete")


def _backend_gone(admin: psycopg.Connection, pid: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            return
        time.sleep(0.05)
    raise AssertionError("the killed loader's backend is still there")


def _tables(admin: psycopg.Connection) -> tuple[set[str], int]:
    names = admin.execute(
        """SELECT n.nspname || '.' || c.relname FROM pg_class AS c
           JOIN pg_namespace AS n ON n.oid = c.relnamespace
           WHERE c.relkind = 'r' AND n.nspname IN ('raw', 'consent', 'ops')"""
    ).fetchall()
    (temporary,) = admin.execute(
        "SELECT count(*) FROM pg_class WHERE relpersistence = 't'"
    ).fetchone() or (0,)
    return {n for (n,) in names}, int(temporary)


def test_sigkill_mid_load_leaves_old_batch_and_rerun_loads_new(
    pg_settings: Settings, dataset: Path
) -> None:
    registry = prepare(pg_settings, dataset)
    hospital = sorted(registry.hospitals)[0]
    assert sync_batch(registry.hospitals[hospital], START, settings=pg_settings).status == "loaded"

    # The next delivery of the same day has fewer visits: a different total.
    service = Path(registry.hospitals[hospital].connector.path) / START.isoformat() / "SERVICE.txt"
    lines = service.read_bytes().splitlines(keepends=True)
    service.write_bytes(b"".join(lines[: len(lines) - 40]))

    admin = psycopg.connect(pg_settings.warehouse, autocommit=True)
    tables_before, _ = _tables(admin)
    reader = Reader(pg_settings.warehouse, hospital)
    old_total = reader.total()
    reader.start()

    loader = _loader(pg_settings, hospital, pause=60)
    pid = _wait_until_deleted(admin)
    os.kill(loader.pid, signal.SIGKILL)
    loader.wait(timeout=30)
    _backend_gone(admin, pid)
    time.sleep(0.3)  # the reader keeps reading after the rollback
    assert reader.finish() == {old_total}
    assert reader.reads > 10

    tables_after, temporary = _tables(admin)
    assert tables_after == tables_before  # no staging table left behind
    assert temporary == 0  # and no temp table in any session

    reader = Reader(pg_settings.warehouse, hospital)
    reader.start()
    rerun = _loader(pg_settings, hospital, pause=0)
    assert rerun.wait(timeout=300) == 0
    time.sleep(0.2)
    seen = reader.finish()
    (new_total,) = admin.execute(
        f"SELECT {HOSPITAL_TOTAL_SQL}", [hospital] * len(ENTITIES)
    ).fetchone() or (0,)
    assert new_total < old_total
    assert seen <= {old_total, new_total} and new_total in seen
    (status,) = admin.execute(
        "SELECT status FROM ops.batch WHERE hospital_code = %s AND extract_date = %s",
        [hospital, START],
    ).fetchone() or (None,)
    assert status == "loaded"
    admin.close()
