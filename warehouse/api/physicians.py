"""The physician registry, kept by hospital staff (admin CLI or the admin endpoints)."""

from __future__ import annotations

import re

from warehouse.api.clock import utc_now
from warehouse.api.credentials import hash_secret
from warehouse.db import WarehouseConnection

# Licence numbers ("เลข ว.") are digits, sometimes with a letter prefix; hospital codes are
# MOPH 5-digit HCODEs. Both are checked before use (they also become session variables).
LICENCE_PATTERN = re.compile(r"^[A-Za-z]{0,3}[0-9]{1,10}$")
HOSPITAL_PATTERN = re.compile(r"^[0-9]{5}$")


class RegistryError(ValueError):
    """A registry change the rules refuse; the message never carries personal data."""


def _check(licence: str, hospital_codes: list[str]) -> None:
    if not LICENCE_PATTERN.match(licence):
        raise RegistryError("licence number has an unexpected format")
    for code in hospital_codes:
        if not HOSPITAL_PATTERN.match(code):
            raise RegistryError("hospital code must be 5 digits")


def add_physician(
    conn: WarehouseConnection, licence: str, name: str, pincode: str, hospital_codes: list[str]
) -> None:
    _check(licence, hospital_codes)
    if not hospital_codes:
        raise RegistryError("a physician works at one hospital at least")
    if conn.execute("SELECT 1 FROM api.physician WHERE licence = ?", [licence]).fetchone():
        raise RegistryError("physician already registered")
    conn.execute(
        "INSERT INTO api.physician (licence, name, status, pincode_hash, created_at) "
        "VALUES (?, ?, 'active', ?, ?)",
        [licence, name, hash_secret(pincode), utc_now()],
    )
    for code in hospital_codes:
        link_hospital(conn, licence, code)


def link_hospital(conn: WarehouseConnection, licence: str, hospital_code: str) -> None:
    _check(licence, [hospital_code])
    conn.execute(
        "INSERT INTO api.physician_hospital (licence, hospital_code) VALUES (?, ?) "
        "ON CONFLICT DO NOTHING",
        [licence, hospital_code],
    )


def set_status(conn: WarehouseConnection, licence: str, status: str) -> None:
    """Suspension ends every live session at once (and each request rechecks the status)."""
    if status not in ("active", "suspended"):
        raise RegistryError("status is active or suspended")
    found = conn.execute("SELECT 1 FROM api.physician WHERE licence = ?", [licence]).fetchone()
    if not found:
        raise RegistryError("no such physician")
    now = utc_now()
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
    conn.execute(
        "UPDATE api.physician SET pincode_hash = ?, changed_at = ? WHERE licence = ?",
        [hash_secret(pincode), utc_now(), licence],
    )


def works_at(conn: WarehouseConnection, licence: str, hospital_code: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM api.physician_hospital WHERE licence = ? AND hospital_code = ?",
        [licence, hospital_code],
    ).fetchone()
    return row is not None


def add_admin(conn: WarehouseConnection, username: str, hospital_code: str, password: str) -> None:
    """A hospital-scoped admin: may manage physicians of that hospital only."""
    _check("0", [hospital_code])
    conn.execute(
        "INSERT INTO api.admin_account (username, hospital_code, password_hash, created_at) "
        "VALUES (?, ?, ?, ?)",
        [username, hospital_code, hash_secret(password), utc_now()],
    )
