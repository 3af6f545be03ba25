"""Login, lockout, first-login terms, current hospital, logout and the rating ticket."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from warehouse.api.clock import utc_now
from warehouse.api.credentials import PincodeVerifier, new_token, token_hash
from warehouse.api.physicians import LICENCE_PATTERN
from warehouse.api.settings import ApiSettings
from warehouse.db import WarehouseConnection


class LoginRefused(Exception):
    """Refusal with a machine code; 'invalid_credentials' covers unknown licences too."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class PhysicianSession:
    token_hash: str
    licence: str
    name: str
    hospital_code: str | None
    hospitals: list[str]
    terms_accepted: bool
    expires_at: datetime


def _locked_until(conn: WarehouseConnection, licence: str) -> datetime | None:
    row = conn.execute(
        "SELECT locked_until FROM api.login_failure WHERE licence = ?", [licence]
    ).fetchone()
    return row[0] if row else None


def _record_failure(conn: WarehouseConnection, licence: str, settings: ApiSettings) -> None:
    """Counted per licence string whether or not it exists, so lockout reveals nothing."""
    row = conn.execute(
        "SELECT failures FROM api.login_failure WHERE licence = ?", [licence]
    ).fetchone()
    failures = (int(row[0]) if row else 0) + 1
    locked_until = None
    if failures >= settings.lockout_failures:
        locked_until = utc_now() + timedelta(minutes=settings.lockout_minutes)
        failures = 0
    conn.execute(
        "INSERT INTO api.login_failure (licence, failures, locked_until) VALUES (?, ?, ?) "
        "ON CONFLICT (licence) DO UPDATE SET failures = excluded.failures, "
        "locked_until = excluded.locked_until",
        [licence, failures, locked_until],
    )


def login(
    conn: WarehouseConnection,
    verifier: PincodeVerifier,
    settings: ApiSettings,
    licence: str,
    pincode: str,
) -> str:
    """A new session token, or LoginRefused (locked / invalid_credentials / suspended)."""
    if not LICENCE_PATTERN.match(licence):
        raise LoginRefused("invalid_credentials")
    locked_until = _locked_until(conn, licence)
    if locked_until is not None and locked_until > utc_now():
        raise LoginRefused("locked")
    if not verifier.verify(conn, licence, pincode):
        _record_failure(conn, licence, settings)
        raise LoginRefused("invalid_credentials")
    status = conn.execute(
        "SELECT status FROM api.physician WHERE licence = ?", [licence]
    ).fetchone()
    if status is None:
        # Verified elsewhere (a Council verifier) but not registered by any hospital here.
        raise LoginRefused("invalid_credentials")
    if status[0] != "active":
        raise LoginRefused("suspended")
    conn.execute("DELETE FROM api.login_failure WHERE licence = ?", [licence])
    hospitals = physician_hospitals(conn, licence)
    token = new_token()
    now = utc_now()
    conn.execute(
        "INSERT INTO api.session (token_hash, kind, subject, hospital_code, created_at, "
        "expires_at) VALUES (?, 'physician', ?, ?, ?, ?)",
        [
            token_hash(token),
            licence,
            hospitals[0] if len(hospitals) == 1 else None,
            now,
            now + timedelta(minutes=settings.token_ttl_minutes),
        ],
    )
    return token


def physician_hospitals(conn: WarehouseConnection, licence: str) -> list[str]:
    rows = conn.execute(
        "SELECT hospital_code FROM api.physician_hospital WHERE licence = ? ORDER BY 1",
        [licence],
    ).fetchall()
    return [r[0] for r in rows]


def resolve(conn: WarehouseConnection, token: str, terms_version: str) -> PhysicianSession | None:
    """The live session of an active physician, or None (expired, ended, suspended)."""
    row = conn.execute(
        "SELECT s.token_hash, s.subject, p.name, s.hospital_code, s.expires_at, "
        "  EXISTS (SELECT 1 FROM api.terms_acceptance AS t "
        "          WHERE t.licence = s.subject AND t.terms_version = ?) "
        "FROM api.session AS s JOIN api.physician AS p ON p.licence = s.subject "
        "WHERE s.token_hash = ? AND s.kind = 'physician' AND s.ended_at IS NULL "
        "  AND s.expires_at > ? AND p.status = 'active'",
        [terms_version, token_hash(token), utc_now()],
    ).fetchone()
    if row is None:
        return None
    return PhysicianSession(
        token_hash=row[0],
        licence=row[1],
        name=row[2],
        hospital_code=row[3],
        hospitals=physician_hospitals(conn, row[1]),
        terms_accepted=bool(row[5]),
        expires_at=row[4],
    )


def accept_terms(conn: WarehouseConnection, licence: str, terms_version: str) -> None:
    conn.execute(
        "INSERT INTO api.terms_acceptance (licence, terms_version, accepted_at) VALUES (?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        [licence, terms_version, utc_now()],
    )


def choose_hospital(conn: WarehouseConnection, session: PhysicianSession, code: str) -> bool:
    if code not in session.hospitals:
        return False
    conn.execute(
        "UPDATE api.session SET hospital_code = ? WHERE token_hash = ?", [code, session.token_hash]
    )
    return True


def logout(conn: WarehouseConnection, session: PhysicianSession) -> str:
    """End the session; returns a single-use ticket for the optional rating."""
    now = utc_now()
    conn.execute(
        "UPDATE api.session SET ended_at = ?, ended_reason = 'logout' WHERE token_hash = ?",
        [now, session.token_hash],
    )
    ticket = new_token()
    conn.execute(
        "INSERT INTO api.rating_ticket (ticket_hash, hospital_code, issued_at) VALUES (?, ?, ?)",
        [token_hash(ticket), session.hospital_code, now],
    )
    return ticket


def rate(conn: WarehouseConnection, ticket: str, score: int, comment: str | None) -> bool:
    row = conn.execute(
        "SELECT hospital_code FROM api.rating_ticket WHERE ticket_hash = ? AND used_at IS NULL",
        [token_hash(ticket)],
    ).fetchone()
    if row is None:
        return False
    now = utc_now()
    conn.execute(
        "UPDATE api.rating_ticket SET used_at = ? WHERE ticket_hash = ?", [now, token_hash(ticket)]
    )
    conn.execute(
        "INSERT INTO api.rating (hospital_code, score, comment, rated_at) VALUES (?, ?, ?, ?)",
        [row[0], score, comment, now],
    )
    return True
