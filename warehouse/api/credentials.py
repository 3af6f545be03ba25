"""Pincode verification (pluggable) and opaque tokens.

The Medical Council's credential service can replace `LocalPincodeVerifier`: anything with
`verify(licence, pincode) -> bool` fits. Tokens are random and stored only as sha256.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from warehouse.storage.connection import WarehouseConnection

_hasher = PasswordHasher()
# Verified against when the licence is unknown, so both paths cost one argon2 check.
_DUMMY_HASH = _hasher.hash("not-a-real-pincode")


PINCODE_POLICY = (
    "exactly six digits, not a run (123456, 654321, 135791) or a repeat (111111, 121212, 123123)"
)


def pincode_is_acceptable(pincode: str) -> bool:
    """The policy for pincodes WE set (registration, reset): six ASCII digits that are not
    trivially guessed. Never applied at login: an external verifier's credentials follow
    that verifier's rules."""
    if len(pincode) != 6 or not all("0" <= c <= "9" for c in pincode):
        return False
    digits = [int(c) for c in pincode]
    steps = {(b - a) % 10 for a, b in itertools.pairwise(digits)}
    # One constant step (mod 10, so 890123 counts) of 0, +-1 or +-2: 111111, 123456, 975319.
    if len(steps) == 1 and steps <= {0, 1, 2, 8, 9}:
        return False
    # A block of one, two or three digits repeated: 121212, 123123.
    return all(pincode != pincode[:size] * (6 // size) for size in (1, 2, 3))


class PincodeVerifier(Protocol):
    def verify(self, conn: WarehouseConnection, licence: str, pincode: str) -> bool: ...


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def check_secret(stored_hash: str | None, secret: str) -> bool:
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, secret) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


class LocalPincodeVerifier:
    """Development store: argon2 hashes in api.physician."""

    def verify(self, conn: WarehouseConnection, licence: str, pincode: str) -> bool:
        row = conn.execute(
            "SELECT pincode_hash FROM api.physician WHERE licence = ?", [licence]
        ).fetchone()
        return check_secret(row[0] if row else None, pincode)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
