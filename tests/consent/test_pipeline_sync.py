"""The real daily sync with consent's effects (DuckDB, generated data, real dbt).

A withdrawal is purged by the next sync from raw, marts and landing, recorded without keys,
and replaying an old day does not bring the patient back; a new registration since the last
sync becomes a full-history request for the hospitals it covers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from tests.support.machine import START, TEST_KEY
from warehouse import consent as cs
from warehouse.consent.effects import pending_history_requests
from warehouse.consent.purge import purgeable_tables
from warehouse.consent.sender_choice import import_registrations, sync_hospitals
from warehouse.hospital_registry import load_registry
from warehouse.pipeline.daily_run import prepare_run, run_daily_sync
from warehouse.storage.connection import connect


def _stored(conn: Any, key: str, landing: Path) -> dict[str, int]:
    """Rows of the patient anywhere: raw and marts tables, landing files."""
    found: dict[str, int] = {}
    for table, _column in purgeable_tables(conn):
        (count,) = conn.execute(
            f"SELECT count(*) FROM {table} WHERE patient_key = ?", [key]
        ).fetchone()
        if count:
            found[table] = count
    for path in landing.glob("**/*.parquet"):
        table = pq.read_table(path)
        if "patient_key" in table.column_names and key in table.column("patient_key").to_pylist():
            found[str(path)] = 1
    return found


def test_withdrawal_purged_by_next_sync_and_replay_keeps_it_out(
    settings: Any, dataset: Path
) -> None:
    registry = load_registry(settings.registry_dir)
    with connect(settings) as conn:
        sync_hospitals(conn, registry)
        imported = import_registrations(
            conn, dataset / "consent" / "registrations.csv", TEST_KEY.encode(), registry
        )
    assert imported.imported > 100 and imported.refused == []
    assert {r["status"] for r in run_daily_sync(START, settings=settings)} == {"loaded"}
    with connect(settings) as conn:
        ((key, hospitals),) = conn.execute(
            "SELECT patient_key, count(DISTINCT hospital_code) FROM published.diagnosis"
            " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
        ).fetchall()
        assert _stored(conn, key, settings.landing_dir)
        cs.withdraw(conn, key, now=datetime.now(UTC) - timedelta(minutes=1))
        # A LIST chooser widens to ALL: newly consenting for the hospitals added.
        (widened,) = conn.execute(
            "SELECT patient_key FROM consent.patient_consent WHERE status = 'active'"
            " AND sender_scope = 'LIST' ORDER BY 1 LIMIT 1"
        ).fetchone()
        cs.change_sources(conn, registry, widened, cs.SenderChoice.everyone())
    prepare_run(START + timedelta(days=1), settings=settings)
    with connect(settings) as conn:
        assert _stored(conn, key, settings.landing_dir) == {}
        (pairs, detail) = conn.execute(
            "SELECT pairs, detail FROM consent.purge_log ORDER BY purge_id DESC LIMIT 1"
        ).fetchone()
        assert pairs >= hospitals and key not in detail
        requested = conn.execute("SELECT DISTINCT patient_key FROM ops.history_request").fetchall()
        assert requested == [(widened,)]
        assert pending_history_requests(conn)
    # Replay the first day: the loads filter by today's consent, nothing comes back.
    assert {r["status"] for r in run_daily_sync(START, settings=settings)} == {"loaded"}
    with connect(settings) as conn:
        assert _stored(conn, key, settings.landing_dir) == {}
        for view in ("diagnosis", "encounter", "patient"):
            assert conn.execute(
                f"SELECT count(*) FROM published.{view} WHERE patient_key = ?", [key]
            ).fetchone() == (0,)
