"""Issue 9 finding 5: break-glass notices an older DuckDB warehouse kept in the unread
api.patient_notification move to the patient's list (PostgreSQL: migration 011)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from tests.support.machine import TEST_KEY
from warehouse import consent
from warehouse.settings import Settings
from warehouse.storage.connection import connect
from warehouse.storage.schema import ensure_schema


def test_legacy_break_glass_notices_reach_the_patients_list(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", pseudonym_key=TEST_KEY, environment="test")  # type: ignore[arg-type]
    with connect(settings) as conn:
        ensure_schema(conn)
        conn.execute("CREATE SCHEMA IF NOT EXISTS api")
        conn.execute(
            "CREATE TABLE api.patient_notification (notification_id VARCHAR PRIMARY KEY,"
            " patient_key VARCHAR NOT NULL, kind VARCHAR NOT NULL, physician_licence VARCHAR,"
            " physician_hospital_code VARCHAR, reason VARCHAR, source_hospitals VARCHAR,"
            " created_at TIMESTAMP NOT NULL, delivered_at TIMESTAMP)"
        )
        conn.execute(
            "INSERT INTO api.patient_notification VALUES"
            " ('n1', ?, 'break_glass', '20001', '10001', 'unconscious, allergies', '10002,10003',"
            " ?, NULL)",
            ["a" * 32, datetime(2026, 11, 1, 3, 0)],
        )
        ensure_schema(conn)
        ensure_schema(conn)  # idempotent: nothing left to move
        (notice,) = consent.notifications(conn, "a" * 32)
        gone = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'patient_notification'"
        ).fetchone()
    assert notice["kind"] == "break_glass" and gone == (0,)
    assert notice["payload"] == {
        "physician_licence": "20001",
        "physician_hospital_code": "10001",
        "reason": "unconscious, allergies",
        "source_hospitals": ["10002", "10003"],
    }
