"""The physician registry, kept by hospital staff (admin CLI or the admin endpoints).

A physician (`api.physician`: licence, name, pincode, national status) works at hospitals
through memberships (`api.physician_hospital`), each with its own status. A hospital admin
acts on their hospital's memberships only: suspending one ends the physician's sessions at
that hospital and nowhere else. The national status (CLI `suspend` without `--hospital`)
is the operator's, for the Medical Council's suspensions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from warehouse.api.credentials import PINCODE_POLICY, hash_secret, pincode_is_acceptable
from warehouse.clock import storage_now
from warehouse.storage.connection import WarehouseConnection

# Licence numbers ("เลข ว.") are digits, sometimes with a letter prefix; hospital codes are
# MOPH 5-digit HCODEs. Both are checked before use (they also become session variables).
LICENCE_PATTERN = re.compile(r"^[A-Za-z]{0,3}[0-9]{1,10}$")
HOSPITAL_PATTERN = re.compile(r"^[0-9]{5}$")
STATUSES = ("active", "suspended")


class RegistryError(ValueError):
    """A registry change the rules refuse; the message never carries personal data."""


@dataclass(frozen=True)
class Membership:
    licence: str
    hospital_code: str
    status: str


def _check(licence: str, hospital_codes: list[str]) -> None:
    if not LICENCE_PATTERN.match(licence):
        raise RegistryError("licence number has an unexpected format")
    for code in hospital_codes:
        if not HOSPITAL_PATTERN.match(code):
            raise RegistryError("hospital code must be 5 digits")


def _check_pincode(pincode: str) -> None:
    if not pincode_is_acceptable(pincode):
        raise RegistryError(f"pincode must be {PINCODE_POLICY}")


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise RegistryError("status is active or suspended")


def is_registered(conn: WarehouseConnection, licence: str) -> bool:
    row = conn.execute("SELECT 1 FROM api.physician WHERE licence = ?", [licence]).fetchone()
    return row is not None


def _require_registered(conn: WarehouseConnection, licence: str) -> None:
    if not is_registered(conn, licence):
        raise RegistryError("no such physician")


def add_physician(
    conn: WarehouseConnection, licence: str, name: str, pincode: str, hospital_codes: list[str]
) -> None:
    _check(licence, hospital_codes)
    if not hospital_codes:
        raise RegistryError("a physician works at one hospital at least")
    if not name.strip():
        raise RegistryError("name is empty")
    _check_pincode(pincode)
    if is_registered(conn, licence):
        raise RegistryError("physician already registered")
    conn.execute(
        "INSERT INTO api.physician (licence, name, status, pincode_hash, created_at) "
        "VALUES (?, ?, 'active', ?, ?)",
        [licence, name, hash_secret(pincode), storage_now()],
    )
    for code in hospital_codes:
        link_hospital(conn, licence, code)


def link_hospital(conn: WarehouseConnection, licence: str, hospital_code: str) -> Membership:
    """The physician's membership of this hospital (an active one is created if missing;
    an existing one, suspended or not, is left as it is)."""
    _check(licence, [hospital_code])
    _require_registered(conn, licence)
    conn.execute(
        "INSERT INTO api.physician_hospital (licence, hospital_code, status, changed_at) "
        "VALUES (?, ?, 'active', ?) ON CONFLICT DO NOTHING",
        [licence, hospital_code, storage_now()],
    )
    found = membership(conn, licence, hospital_code)
    assert found is not None  # just inserted or already there
    return found


def membership(conn: WarehouseConnection, licence: str, hospital_code: str) -> Membership | None:
    row = conn.execute(
        "SELECT status FROM api.physician_hospital WHERE licence = ? AND hospital_code = ?",
        [licence, hospital_code],
    ).fetchone()
    return Membership(licence, hospital_code, str(row[0])) if row else None


def memberships_of_hospital(conn: WarehouseConnection, hospital_code: str) -> list[Membership]:
    rows = conn.execute(
        "SELECT licence, status FROM api.physician_hospital WHERE hospital_code = ? ORDER BY 1",
        [hospital_code],
    ).fetchall()
    return [Membership(r[0], hospital_code, str(r[1])) for r in rows]


def set_membership_status(
    conn: WarehouseConnection, licence: str, hospital_code: str, status: str
) -> Membership:
    """A hospital's suspension: the physician can no longer act at this hospital; their
    sessions there end at once (sessions elsewhere go on; each request rechecks)."""
    _check_status(status)
    _check(licence, [hospital_code])
    if membership(conn, licence, hospital_code) is None:
        raise RegistryError("the physician does not work at this hospital")
    now = storage_now()
    conn.execute(
        "UPDATE api.physician_hospital SET status = ?, changed_at = ? "
        "WHERE licence = ? AND hospital_code = ?",
        [status, now, licence, hospital_code],
    )
    if status == "suspended":
        conn.execute(
            "UPDATE api.session SET ended_at = ?, ended_reason = 'suspended' "
            "WHERE kind = 'physician' AND subject = ? AND hospital_code = ? "
            "AND ended_at IS NULL",
            [now, licence, hospital_code],
        )
    return Membership(licence, hospital_code, status)


def set_status(conn: WarehouseConnection, licence: str, status: str) -> None:
    """The national status (operator CLI): suspension ends every live session at once."""
    _check_status(status)
    _require_registered(conn, licence)
    now = storage_now()
    conn.execute(
        "UPDATE api.physician SET status = ?, changed_at = ? WHERE licence = ?",
        [status, now, licence],
    )
    if status == "suspended":
        conn.execute(
            "UPDATE api.session SET ended_at = ?, ended_reason = 'suspended' "
            "WHERE kind = 'physician' AND subject = ? AND ended_at IS NULL",
            [now, licence],
        )


def set_pincode(conn: WarehouseConnection, licence: str, pincode: str) -> None:
    _check_pincode(pincode)
    _require_registered(conn, licence)
    conn.execute(
        "UPDATE api.physician SET pincode_hash = ?, changed_at = ? WHERE licence = ?",
        [hash_secret(pincode), storage_now(), licence],
    )


def works_at(conn: WarehouseConnection, licence: str, hospital_code: str) -> bool:
    """An active membership of this hospital."""
    found = membership(conn, licence, hospital_code)
    return found is not None and found.status == "active"


def add_admin(conn: WarehouseConnection, username: str, hospital_code: str, password: str) -> None:
    """A hospital-scoped admin: may manage physicians of that hospital only."""
    _check("0", [hospital_code])
    conn.execute(
        "INSERT INTO api.admin_account (username, hospital_code, password_hash, created_at) "
        "VALUES (?, ?, ?, ?)",
        [username, hospital_code, hash_secret(password), storage_now()],
    )


def admin_exists(conn: WarehouseConnection, username: str) -> bool:
    row = conn.execute("SELECT 1 FROM api.admin_account WHERE username = ?", [username]).fetchone()
    return row is not None
