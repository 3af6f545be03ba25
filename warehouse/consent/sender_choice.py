"""Consent state as the sync step needs it: who may a hospital send data for.

This is the Python home of the sender-choice rule; the SQL home is the dbt model
`int_consent__patient_hospital`, which the published views use. Both read the same
consent tables, the projection the consent service (warehouse/consent) writes with
every event, so they cannot disagree about the rule's inputs. Every consent write goes
through that service: the withdrawals here only delegate to it, and `import_registrations`
is warehouse.consent.bulk's own (re-exported).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

import pyarrow as pa

from warehouse.clock import bangkok_today
from warehouse.consent.bulk import ImportFileError, ImportResult, import_registrations
from warehouse.hospital_registry import Hospital, Registry
from warehouse.storage.protocol import WarehouseConnection

__all__ = [
    "ALLOWED_PATIENT_KEYS_SQL",
    "ImportFileError",
    "ImportResult",
    "allowed_patient_keys",
    "allows_sql",
    "covers_sql",
    "import_registrations",
    "mirror_hospitals",
    "sync_hospitals",
    "withdraw",
]

# The rule (the Python home; SenderChoice.covers is the same rule over one state): an active
# patient allows a hospital when they chose ALL, or named the hospital, or named the hospital's
# network (which covers hospitals joining it later). Every query of the consent wing that asks
# "may hospital H send for patient P" is built from these two fragments; the SQL home for the
# published views is the dbt model int_consent__patient_hospital, which states the same.


def covers_sql(consent: str, hospital_code: str, network_code: str) -> str:
    """SQL: the sender choice of `consent` (an alias of consent.patient_consent) covers the
    hospital whose code and network are the SQL expressions given (`?` placeholders allowed,
    bound in that order; a NULL network matches no network choice)."""
    return (
        f"({consent}.sender_scope = 'ALL' OR EXISTS ("
        f"SELECT 1 FROM consent.patient_sender AS sender"
        f" WHERE sender.patient_key = {consent}.patient_key"
        f" AND ((sender.kind = 'hospital' AND sender.code = {hospital_code})"
        f" OR (sender.kind = 'network' AND sender.code = {network_code}))))"
    )


def allows_sql(consent: str, hospital_code: str, network_code: str) -> str:
    """SQL: the consent `consent` is active and its choice covers the hospital (`covers_sql`)."""
    return f"({consent}.status = 'active' AND {covers_sql(consent, hospital_code, network_code)})"


# Of the patient keys given (a batch's: `?` binds a text array), those the hospital may send
# for. Asking only about the batch's patients keeps the cost with the batch, not with the
# country's consents. Only a hospital in consent.hospital, i.e. participating today
# (sync_hospitals), is allowed.
ALLOWED_PATIENT_KEYS_SQL = f"""
SELECT c.patient_key
FROM consent.patient_consent AS c
JOIN consent.hospital AS h ON h.hospital_code = ?
WHERE c.patient_key IN (SELECT unnest(?::text[]))
  AND {allows_sql("c", "h.hospital_code", "h.network_code")}
"""


def allowed_patient_keys(
    conn: WarehouseConnection, hospital_code: str, patient_keys: pa.Array
) -> pa.Array:
    """Which of `patient_keys` this hospital may send data for, as of now."""
    table = conn.query_arrow(ALLOWED_PATIENT_KEYS_SQL, [hospital_code, patient_keys.to_pylist()])
    return table.column("patient_key").combine_chunks().cast(pa.string())


# The one writer of consent.hospital, the registry mirror (sync_hospitals replaces it,
# warehouse.consent.hospitals adds a hospital as it joins).
_UPSERT_HOSPITAL_SQL = (
    "INSERT INTO consent.hospital (hospital_code, hospital_name, network_code, network_name,"
    " participating_since, per_visit_consent) VALUES (?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (hospital_code) DO UPDATE SET hospital_name = excluded.hospital_name,"
    " network_code = excluded.network_code, network_name = excluded.network_name,"
    " participating_since = excluded.participating_since,"
    " per_visit_consent = excluded.per_visit_consent"
)


def mirror_hospitals(
    conn: WarehouseConnection, registry: Registry, hospitals: Iterable[Hospital]
) -> None:
    """Insert or update `hospitals` in consent.hospital from the registry (in the caller's
    transaction)."""
    rows = [
        (
            h.hospital_code,
            h.name,
            h.network,
            registry.networks[h.network].name,
            h.participating_since,
            registry.requires_per_visit_consent(h),
        )
        for h in hospitals
    ]
    conn.executemany(_UPSERT_HOSPITAL_SQL, rows)


def sync_hospitals(conn: WarehouseConnection, registry: Registry) -> None:
    """Mirror the hospitals participating today (Asia/Bangkok) into consent.hospital.

    The views, the load's consent filter and the purge resolve networks with it, so a hospital
    whose `participating_since` is still ahead is not in it: no patient's "ALL" or network
    choice reaches it before it joins (warehouse.consent.hospitals records the join).
    """
    with conn.transaction():
        conn.execute("DELETE FROM consent.hospital")
        mirror_hospitals(conn, registry, registry.participating(bangkok_today()))


def withdraw(conn: WarehouseConnection, key_value: str, on: date | datetime | None = None) -> bool:
    """Withdraw through the consent service; False when there is no active consent.

    The published views hide the rows at once; the next sync purges them from storage.
    """
    from warehouse.clock import BANGKOK, bangkok_day, utc_now
    from warehouse.consent import ConsentRefused
    from warehouse.consent import withdraw as service_withdraw

    moment = on if isinstance(on, datetime) or on is None else None
    if moment is None and on is not None and bangkok_day(utc_now()) != on:
        moment = datetime.combine(on, time(12), tzinfo=BANGKOK)  # a past day: its noon
    try:
        service_withdraw(conn, key_value, now=moment, recorded_by="operator")
    except ConsentRefused:
        return False
    return True
