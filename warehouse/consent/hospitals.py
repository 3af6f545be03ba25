"""Hospitals joining: the registry change that emits `hospital_joined` and notifies patients.

Participation comes from the registry YAML (`participating_since`). A hospital "joins" the first
time `record_hospital_joined` sees it participating. ALL choosers and choosers of its network get
it without any change (their choice is resolved when read); an active LIST chooser whose choice
does not cover it, and who consented before it started participating, gets a notification so
they may add it. (Someone who registered later saw the hospital in the app's list already.)
"""

from __future__ import annotations

import json
from datetime import date, datetime

from warehouse.clock import bangkok_day, utc_or_now
from warehouse.consent import storage
from warehouse.consent.model import Event
from warehouse.consent.notifications import notify
from warehouse.consent.sender_choice import covers_sql, mirror_hospitals
from warehouse.hospital_registry import Hospital, Registry
from warehouse.storage.protocol import WarehouseConnection


def joined_hospitals(conn: WarehouseConnection) -> set[str]:
    rows = conn.execute(
        "SELECT payload FROM consent.event WHERE event_type = 'hospital_joined'"
    ).fetchall()
    return {json.loads(payload)["hospital_code"] for (payload,) in rows}


# Active LIST choosers whose choice covers neither the hospital nor its network, and who
# consented (registered or rejoined) before the hospital started participating: one query for
# every hospital joining now (`{joining}`: a VALUES row per hospital), since a warehouse's first
# day has every hospital of the country join. PostgreSQL finds the few LIST choosers through a
# partial index (consent.patient_consent_active_list), so the cost follows them, not the
# country's consents.
_TO_NOTIFY_SQL = f"""
SELECT j.hospital_code, c.patient_key
FROM consent.patient_consent AS c
JOIN (VALUES {{joining}}) AS j(hospital_code, network_code, participating_since)
  ON c.registered_on < j.participating_since
WHERE c.status = 'active' AND c.sender_scope = 'LIST'
  AND NOT {covers_sql("c", "j.hospital_code", "j.network_code")}
ORDER BY j.hospital_code, c.patient_key
"""


def _to_notify(conn: WarehouseConnection, hospitals: list[Hospital]) -> dict[str, list[str]]:
    """Hospital code -> the patient keys to notify of its joining, in patient key order."""
    if not hospitals:
        return {}
    rows = conn.execute(
        _TO_NOTIFY_SQL.format(joining=", ".join(["(?, ?, ?)"] * len(hospitals))),
        [v for h in hospitals for v in (h.hospital_code, h.network, h.participating_since)],
    ).fetchall()
    patients: dict[str, list[str]] = {}
    for hospital_code, patient_key in rows:
        patients.setdefault(hospital_code, []).append(patient_key)
    return patients


def record_hospital_joined(
    conn: WarehouseConnection, registry: Registry, day: date, *, now: datetime | None = None
) -> list[str]:
    """Append `hospital_joined` for hospitals newly participating on `day`; notify patients.

    A hospital joins on its `participating_since`, not before: participation is judged on
    `day` or on the Bangkok day of `now` if that is earlier (a future extract date, or a
    replay, never makes a hospital join ahead of its date).
    Returns the hospital codes that joined now (empty when nothing changed: idempotent).
    """
    moment = utc_or_now(now)
    on = min(day, bangkok_day(moment))
    joined: list[str] = []
    with conn.transaction():
        already = joined_hospitals(conn)
        joining = [
            hospital
            for hospital in sorted(registry.participating(on), key=lambda h: h.hospital_code)
            if hospital.hospital_code not in already
        ]
        to_notify = _to_notify(conn, joining)
        for hospital in joining:
            payload = {
                "hospital_code": hospital.hospital_code,
                "network_code": hospital.network,
                "participating_since": str(hospital.participating_since),
            }
            event_id = storage.append_event(
                conn, Event("hospital_joined", None, moment, payload, recorded_by="registry")
            )
            mirror_hospitals(conn, registry, [hospital])
            for patient_key in to_notify.get(hospital.hospital_code, []):
                notify(conn, patient_key, "hospital_joined", payload, event_id=event_id, now=moment)
            joined.append(hospital.hospital_code)
    return joined
