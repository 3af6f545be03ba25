"""Consent state as the sync step needs it: who may a hospital send data for.

This is the Python home of the sender-choice rule; the SQL home is the dbt model
`int_consent__patient_hospital`, which the published views use. Both read the same
consent tables, so they cannot disagree about the rule's inputs.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa

from expectations.national_id import is_valid_thai_national_id
from warehouse.db import WarehouseConnection
from warehouse.pseudonym import patient_key
from warehouse.registry import Registry

# The rule: an active patient allows a hospital when they chose ALL, or named the
# hospital, or named the hospital's network (which covers hospitals joining it later).
ALLOWED_PATIENT_KEYS_SQL = """
SELECT c.patient_key
FROM consent.patient_consent AS c
WHERE c.status = 'active'
  AND (
    c.sender_scope = 'ALL'
    OR EXISTS (
      SELECT 1 FROM consent.patient_sender AS s
      JOIN consent.hospital AS h ON h.hospital_code = ?
      WHERE s.patient_key = c.patient_key
        AND ((s.kind = 'hospital' AND s.code = h.hospital_code)
          OR (s.kind = 'network' AND s.code = h.network_code))
    )
  )
"""


def allowed_patient_keys(conn: WarehouseConnection, hospital_code: str) -> pa.Array:
    """Patient keys whose data this hospital may send, as of now."""
    table = conn.query_arrow(ALLOWED_PATIENT_KEYS_SQL, [hospital_code])
    return table.column("patient_key").combine_chunks().cast(pa.string())


def sync_hospitals(conn: WarehouseConnection, registry: Registry) -> None:
    """Mirror the YAML registry into consent.hospital (the views resolve networks with it)."""
    rows = [
        (
            h.hospital_code,
            h.name,
            h.network,
            registry.networks[h.network].name,
            h.participating_since,
            registry.requires_per_visit_consent(h),
        )
        for h in registry.hospitals.values()
    ]
    with conn.transaction():
        conn.execute("DELETE FROM consent.hospital")
        conn.executemany("INSERT INTO consent.hospital VALUES (?, ?, ?, ?, ?, ?)", rows)


CONSENT_COLUMNS = (
    "patient_key",
    "status",
    "sender_scope",
    "sensitive_allowed",
    "registered_on",
    "changed_at",
)
CONSENT_TYPES = (pa.string(), pa.string(), pa.string(), pa.bool_(), pa.date32(), pa.timestamp("us"))


@dataclass(frozen=True)
class ImportResult:
    imported: int
    refused: list[str]  # "line N: reason", no personal data


def import_registrations(
    conn: WarehouseConnection, csv_path: Path, key: bytes
) -> ImportResult:
    """Load verified registrations as the citizen app reports them (generator output).

    Replaces the stored state of each patient named in the file.
    """
    consents: list[tuple[object, ...]] = []
    senders: list[tuple[str, str, str]] = []
    refused: list[str] = []
    with csv_path.open(encoding="utf-8", newline="") as handle:
        for line_number, row in enumerate(csv.DictReader(handle), start=2):
            national_id = (row.get("cid") or "").strip()
            if not is_valid_thai_national_id(national_id):
                refused.append(f"line {line_number}: field cid: not a valid Thai national ID")
                continue
            scope = (row.get("sender_scope") or "").strip().upper()
            status = (row.get("status") or "").strip().lower()
            if scope not in ("ALL", "LIST") or status not in ("active", "withdrawn"):
                refused.append(f"line {line_number}: field sender_scope/status: unknown value")
                continue
            key_value = patient_key(national_id, key)
            registered_at = datetime.fromisoformat(row["registered_at"])
            consents.append(
                (
                    key_value,
                    status,
                    scope,
                    (row.get("sensitive_allowed") or "").strip().lower() in ("true", "1", "yes"),
                    registered_at.date(),
                    registered_at.replace(tzinfo=None),
                )
            )
            for kind, column in (("network", "sender_networks"), ("hospital", "sender_hospitals")):
                for code in filter(None, (row.get(column) or "").split(";")):
                    senders.append((key_value, kind, code.strip()))
    keys = pa.table({"patient_key": pa.array([c[0] for c in consents], type=pa.string())})
    # Arrow in, not executemany: a national registration file has millions of lines.
    consent_rows = pa.Table.from_pylist(
        [dict(zip(CONSENT_COLUMNS, c, strict=True)) for c in consents],
        schema=pa.schema(list(zip(CONSENT_COLUMNS, CONSENT_TYPES, strict=True))),
    )
    sender_rows = pa.Table.from_pylist(
        [dict(zip(("patient_key", "kind", "code"), s, strict=True)) for s in senders],
        schema=pa.schema(
            [("patient_key", pa.string()), ("kind", pa.string()), ("code", pa.string())]
        ),
    )
    with conn.transaction():
        conn.create_temp_table(
            "imported_keys", "SELECT patient_key FROM consent.patient_consent WHERE 1 = 0"
        )
        conn.insert_arrow("imported_keys", keys)
        conn.execute(
            "DELETE FROM consent.patient_consent "
            "WHERE patient_key IN (SELECT patient_key FROM imported_keys)"
        )
        conn.execute(
            "DELETE FROM consent.patient_sender "
            "WHERE patient_key IN (SELECT patient_key FROM imported_keys)"
        )
        conn.execute("DROP TABLE imported_keys")
        conn.insert_arrow("consent.patient_consent", consent_rows)
        conn.insert_arrow("consent.patient_sender", sender_rows)
    return ImportResult(imported=len(consents), refused=refused)


def withdraw(conn: WarehouseConnection, key_value: str, on: date | None = None) -> bool:
    """Mark a patient withdrawn; the published views hide their rows at once."""
    changed = conn.execute(
        "UPDATE consent.patient_consent SET status = 'withdrawn', changed_at = ? "
        "WHERE patient_key = ? AND status = 'active' RETURNING patient_key",
        [datetime.combine(on or date.today(), datetime.min.time()), key_value],
    ).fetchall()
    return bool(changed)
