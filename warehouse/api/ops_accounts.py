"""Operations accounts: the operations page only (the ledger's codes and counts).

A third kind of account beside physicians and hospital admins (sessions.OPS): the same
api.session table, login throttle and argon2 hashes, through sessions.AccountKind. Every ops
route resolves its session as kind 'ops'; physician routes resolve kind 'physician'
(sessions.resolve), so neither token opens the other's routes.

The browser holds the session in the SESSION_COOKIE cookie (a page load cannot carry a
bearer header); a bearer header works too. In the audit an ops account is "ops:<name>"
with purpose "ops" (OpsActor.audit_fields).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from warehouse.api.config import ApiSettings
from warehouse.api.credentials import check_secret, hash_secret
from warehouse.api.physicians import RegistryError
from warehouse.api.sessions import OPS
from warehouse.clock import storage_now
from warehouse.storage.connection import WarehouseConnection

KIND = OPS.name
USERNAME_PATTERN = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")
MIN_PASSWORD_LENGTH = 12
SESSION_COOKIE = "hl_ops"


@dataclass(frozen=True)
class OpsActor:
    """An ops account as the audit names it (a login, refused or not, has no session yet)."""

    username: str

    def audit_fields(self) -> dict[str, Any]:
        return {"physician_licence": OPS.audit_subject(self.username), "purpose": KIND}


@dataclass(frozen=True)
class OpsSession(OpsActor):
    token_hash: str
    expires_at: datetime


def session_token(authorization: str, cookie: str | None) -> str | None:
    """The ops session token of a request: a bearer header first, else the cookie."""
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    return cookie or None


def add_ops_account(conn: WarehouseConnection, username: str, password: str) -> None:
    if not USERNAME_PATTERN.match(username):
        raise RegistryError("username: 3 to 64 of a-z 0-9 . _ -, starting with a letter")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RegistryError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if ops_account_exists(conn, username):
        raise RegistryError("an ops account of that name exists")
    conn.execute(
        "INSERT INTO api.ops_account (username, password_hash, created_at) VALUES (?, ?, ?)",
        [username, hash_secret(password), storage_now()],
    )


def ops_account_exists(conn: WarehouseConnection, username: str) -> bool:
    row = conn.execute("SELECT 1 FROM api.ops_account WHERE username = ?", [username]).fetchone()
    return row is not None


def authenticate_ops(
    conn: WarehouseConnection, settings: ApiSettings, username: str, password: str, address: str
) -> None:
    """Right username and password, or sessions.LoginRefused; throttled like every login
    (the attempt's slot commits at once: call it outside a transaction)."""
    row = conn.execute(
        "SELECT password_hash FROM api.ops_account WHERE username = ?", [username]
    ).fetchone()
    OPS.authenticate(
        conn, settings, username, address, lambda: check_secret(row[0] if row else None, password)
    )


def open_ops_session(conn: WarehouseConnection, settings: ApiSettings, username: str) -> str:
    return OPS.open_session(conn, settings, username)


def ops_login(
    conn: WarehouseConnection, settings: ApiSettings, username: str, password: str, address: str
) -> str:
    """A new ops session token, or sessions.LoginRefused."""
    authenticate_ops(conn, settings, username, password, address)
    return open_ops_session(conn, settings, username)


def resolve_ops(conn: WarehouseConnection, token: str) -> OpsSession | None:
    """The live ops session of an existing ops account, or None."""
    session = OPS.live_session(conn, token)
    if session is None or not ops_account_exists(conn, session.subject):
        return None
    return OpsSession(
        token_hash=session.token_hash, username=session.subject, expires_at=session.expires_at
    )


def ops_logout(conn: WarehouseConnection, session: OpsSession) -> None:
    OPS.end_session(conn, session.token_hash)
