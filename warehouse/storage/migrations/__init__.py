"""PostgreSQL schemas, service roles, grants and source row-level security (docs/security.md).

`apply(conn)` runs the numbered SQL files of this package in order. Every file is idempotent
and safe while other processes apply it too: roles are cluster-wide, so they are created
only when missing and a concurrent creator's duplicate is swallowed; the rest runs under the
migration advisory lock. The files define no table (warehouse.storage.tables does): call it
after the tables exist (warehouse.storage.schema.ensure_schema does), so their grants, RLS
and the functions over them apply; later tables get default privileges.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from importlib import resources
from typing import Any, Protocol

from warehouse.settings import password_variable

# Any constant: every process migrating the same PostgreSQL database queues on it. The one
# home of the key: warehouse.storage.schema's ensure_schema takes it too, and advisory locks
# stack within a session, so apply() inside ensure_schema's transaction does not deadlock.
MIGRATION_LOCK_KEY = 4_815_162_342

SERVICE_ROLES = (
    "healthlink_loader",
    "healthlink_transformer",
    "healthlink_api",
    "healthlink_citizen_app",
    "healthlink_ops",
)


class Executor(Protocol):
    """A PostgreSQL connection: our wrapper or a psycopg 3 one (transaction() nests as a
    savepoint in both)."""

    def execute(self, sql: Any, *args: Any, **kwargs: Any) -> Any: ...

    def transaction(self) -> AbstractContextManager[Any]: ...


def migration_files() -> list[str]:
    """The SQL files in apply order (their names start with the step number)."""
    names = [p.name for p in resources.files(__package__).iterdir() if p.name.endswith(".sql")]
    return sorted(names)


def _quote_literal(value: str) -> str:
    # standard_conforming_strings is on (the default since 9.1): only quotes need doubling.
    return "'" + value.replace("'", "''") + "'"


def apply(conn: Executor) -> None:
    """Create or update schemas, roles, grants and source RLS; passwords from the environment.

    A role whose HEALTHLINK_PG_<ROLE>_PASSWORD is set gets that password; without one it
    keeps what it has (local trust authentication needs none).
    """
    package = resources.files(__package__)
    with conn.transaction():
        conn.execute(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        for name in migration_files():
            conn.execute(package.joinpath(name).read_text(encoding="utf-8"))
        for role in SERVICE_ROLES:
            password = os.environ.get(password_variable(role))
            if password:
                conn.execute(f"ALTER ROLE {role} PASSWORD {_quote_literal(password)}")
