"""The patient's notifications: ONE home (consent.notification) for every kind, read by the
citizen app's notification list (GET /citizen-app/consent/{key}/notifications).

Kinds: `hospital_joined` (a hospital joined that the patient's list does not cover, written by
the daily sync), `per_visit_request` (a physician asks to see per-visit hospitals today) and
`break_glass` (a physician opened the record in an emergency without asking). Payloads name
hospitals, physicians (licence) and request ids, never a national ID or a name.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from warehouse.clock import to_storage, utc_or_now
from warehouse.consent import storage
from warehouse.storage.protocol import WarehouseConnection

KINDS = ("hospital_joined", "per_visit_request", "break_glass")


def notify(
    conn: WarehouseConnection,
    patient_key: str,
    kind: str,
    payload: dict[str, Any],
    *,
    event_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """Append one notification for the patient (in the caller's transaction)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    notification_id = storage.next_id(conn, "notification_id_seq")
    conn.execute(
        "INSERT INTO consent.notification (notification_id, patient_key, kind, payload,"
        " event_id, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        [
            notification_id,
            patient_key,
            kind,
            json.dumps(payload, sort_keys=True, ensure_ascii=False),
            event_id,
            to_storage(utc_or_now(now)),
        ],
    )
    return notification_id


def notifications(conn: WarehouseConnection, patient_key: str) -> list[dict[str, Any]]:
    """The patient's notifications, oldest first."""
    rows = conn.execute(
        "SELECT notification_id, kind, payload, created_at, read_at FROM consent.notification"
        " WHERE patient_key = ? ORDER BY notification_id",
        [patient_key],
    ).fetchall()
    return [
        {
            "notification_id": row[0],
            "kind": row[1],
            "payload": json.loads(row[2]),
            "created_at": row[3],
            "read_at": row[4],
        }
        for row in rows
    ]
