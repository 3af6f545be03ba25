"""Login throttling shared by every API worker: attempt slots in `api.login_throttle`.

A login first takes a slot on each of its keys, in ONE atomic upsert per key that counts the
attempt and decides the lockout; only an attempt whose slot is within the budget reaches the
(slow) pincode check. Concurrent guesses therefore cannot all slip in before a failure is
recorded: 60 simultaneous wrong pincodes get at most `budget` checks.

Keys (rows):
- `physician` / `admin` + subject + client address: licence numbers and admin names are
  public, so a lock binds the guesser's address only; the physician keeps logging in from
  their own. A success resets the key.
- `address` + client address: failures of one address across every licence and admin name
  (spraying). A success gives its slot back, so a hospital's shared address is not locked by
  its own physicians logging in.

When a key's attempts reach its budget it is locked; each lock of the same key lasts twice
the previous one, up to a cap; when a lock ends the key gets a new round of attempts. A key
untouched for a day starts over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from warehouse.storage.connection import WarehouseConnection

# Lock lengths double per lockout; beyond this many steps the cap applies anyway.
_BACKOFF_STEPS = 12
QUIET_RESET = timedelta(hours=24)
ADDRESS_KEY = "address"

@dataclass(frozen=True)
class Budget:
    """Attempts per round, and the first and longest lock."""

    attempts: int
    first_lock: timedelta
    max_lock: timedelta

    def lock_lengths(self) -> list[timedelta]:
        return [min(self.first_lock * 2**step, self.max_lock) for step in range(_BACKOFF_STEPS)]


@dataclass(frozen=True)
class ThrottleKey:
    kind: str  # "physician", "admin" or ADDRESS_KEY
    subject: str  # licence or admin name; "" for the address key
    address: str

    @property
    def params(self) -> list[str]:
        return [self.kind, self.subject, self.address]


class Throttled(Exception):
    """Too many attempts: try again after `retry_after` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("throttled")
        self.retry_after = retry_after


class _Sql:
    """A SQL fragment with its own placeholders' values, so composed fragments keep them in
    textual order."""

    def __init__(self, text: str, *params: object) -> None:
        self.text, self.params = text, list(params)

    def __add__(self, other: _Sql | str) -> _Sql:
        other = other if isinstance(other, _Sql) else _Sql(other)
        return _Sql(self.text + other.text, *self.params, *other.params)

    def __radd__(self, other: str) -> _Sql:
        return _Sql(other) + self


def _slot_statement(key: ThrottleKey, budget: Budget, now: datetime) -> _Sql:
    """The upsert that takes a slot. Every SET expression reads the row as it was (both
    dialects evaluate them against the old row), hence the conditions repeated by name."""
    lock_ends = [now + length for length in budget.lock_lengths()]
    stale = _Sql("(t.last_attempt_at < ?)", now - QUIET_RESET)
    lock_active = _Sql("(t.locked_until IS NOT NULL AND t.locked_until > ?)", now)
    lock_over = _Sql("(t.locked_until IS NOT NULL AND t.locked_until <= ?)", now)
    attempts = "(CASE WHEN " + stale + " OR " + lock_over + " THEN 1 ELSE t.attempts + 1 END)"
    lockouts = "(CASE WHEN " + stale + " THEN 0 ELSE t.lockouts END)"
    locks_now = (
        "(("
        + stale
        + " OR NOT "
        + lock_active
        + ") AND "
        + attempts
        + _Sql(" >= ?)", budget.attempts)
    )
    lock_until = _Sql("(CASE")
    for step, ends in enumerate(lock_ends[:-1]):
        lock_until += " WHEN " + lockouts + _Sql(f" = {step} THEN ?", ends)
    lock_until += _Sql(" ELSE ? END)", lock_ends[-1])
    first_locks = budget.attempts <= 1  # a budget of one locks at the first attempt
    return (
        _Sql(
            "INSERT INTO api.login_throttle AS t (kind, subject, address, attempts, lockouts, "
            "locked_until, last_attempt_at) VALUES (?, ?, ?, 1, ?, ?, ?) "
            "ON CONFLICT (kind, subject, address) DO UPDATE SET attempts = ",
            *key.params,
            1 if first_locks else 0,
            lock_ends[0] if first_locks else None,
            now,
        )
        + attempts
        + ", lockouts = "
        + lockouts
        + " + CASE WHEN "
        + locks_now
        + " THEN 1 ELSE 0 END, locked_until = CASE WHEN NOT "
        + stale
        + " AND "
        + lock_active
        + " THEN t.locked_until WHEN "
        + locks_now
        + " THEN "
        + lock_until
        + _Sql(" ELSE NULL END, last_attempt_at = ? RETURNING attempts, locked_until", now)
    )


def take_slot(
    conn: WarehouseConnection, key: ThrottleKey, budget: Budget, now: datetime
) -> int | None:
    """Count this attempt; None when it may go on, else seconds until the key unlocks.

    Commits on its own when no transaction is open (the API's connections are autocommit),
    so every worker sees the slot before this one checks the pincode."""
    statement = _slot_statement(key, budget, now)
    row = conn.execute(statement.text, statement.params).fetchone()
    attempts = int(row[0])
    locked_until: datetime | None = row[1]
    if attempts == budget.attempts:
        # This attempt set a lock: a rare moment, good for dropping keys a day quiet (every
        # well-formed licence string gets a key, so guessing would otherwise grow the table).
        conn.execute(
            "DELETE FROM api.login_throttle WHERE last_attempt_at < ?", [now - QUIET_RESET]
        )
    if attempts <= budget.attempts:
        return None
    if locked_until is None or locked_until <= now:  # budget lowered since the lock: a round
        return math.ceil(budget.first_lock.total_seconds())
    return max(1, math.ceil((locked_until - now).total_seconds()))


def admit(
    conn: WarehouseConnection,
    subject_key: ThrottleKey,
    subject_budget: Budget,
    address_budget: Budget,
    now: datetime,
) -> None:
    """Take the subject's slot, then the address's; raise Throttled if either refuses.

    The subject first: retries against a locked licence are refused without spending the
    address's budget (which a hospital's physicians share)."""
    address_key = ThrottleKey(ADDRESS_KEY, "", subject_key.address)
    for key, budget in ((subject_key, subject_budget), (address_key, address_budget)):
        retry_after = take_slot(conn, key, budget, now)
        if retry_after is not None:
            raise Throttled(retry_after)


def succeeded(conn: WarehouseConnection, subject_key: ThrottleKey, now: datetime) -> None:
    """Right credentials: the subject's key starts over; the address gets its slot back,
    unless the address is locked (then its count stays at the lock's level)."""
    conn.execute(
        "DELETE FROM api.login_throttle WHERE kind = ? AND subject = ? AND address = ?",
        subject_key.params,
    )
    conn.execute(
        "UPDATE api.login_throttle SET attempts = attempts - 1 "
        "WHERE kind = ? AND subject = '' AND address = ? AND attempts > 0 "
        "AND (locked_until IS NULL OR locked_until <= ?)",
        [ADDRESS_KEY, subject_key.address, now],
    )


def unlock_subject(conn: WarehouseConnection, kind: str, subject: str) -> int:
    """Forget every key of a licence or admin name (all addresses); how many were there."""
    found = conn.execute(
        "SELECT count(*) FROM api.login_throttle WHERE kind = ? AND subject = ?", [kind, subject]
    ).fetchone()
    conn.execute("DELETE FROM api.login_throttle WHERE kind = ? AND subject = ?", [kind, subject])
    return int(found[0])


def unlock_address(conn: WarehouseConnection, address: str) -> int:
    found = conn.execute(
        "SELECT count(*) FROM api.login_throttle WHERE kind = ? AND address = ?",
        [ADDRESS_KEY, address],
    ).fetchone()
    conn.execute(
        "DELETE FROM api.login_throttle WHERE kind = ? AND address = ?", [ADDRESS_KEY, address]
    )
    return int(found[0])
