"""What the tests assume of the machine and share as constants: the repository, the shared
data, the test keys and day, and the PostgreSQL server with its throwaway databases.

The fixtures are in tests/conftest.py; everything else a test imports lives here."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
START = date(2026, 11, 23)
TEST_KEY = "test-pseudonym-key"
TEST_AUDIT_KEY = "test-audit-chain-key-0123456789"
NO_POSTGRES = "no PostgreSQL server answers at HEALTHLINK_PG_HOST/PORT: start it (scripts/ensure_services.sh)"

# PostgreSQL: the machine's server (HEALTHLINK_PG_* as for dbt); every test database is
# a throwaway with a unique name, dropped at the end; no other database is touched.
PG_SERVER = {
    "host": os.environ.get("HEALTHLINK_PG_HOST", "127.0.0.1"),
    "port": os.environ.get("HEALTHLINK_PG_PORT", "5432"),
    "user": os.environ.get("HEALTHLINK_PG_USER", "postgres"),
    "password": os.environ.get("HEALTHLINK_PG_PASSWORD", ""),
}


def pg_url(dbname: str) -> str:
    auth = PG_SERVER["user"] + (f":{PG_SERVER['password']}" if PG_SERVER["password"] else "")
    return f"postgresql://{auth}@{PG_SERVER['host']}:{PG_SERVER['port']}/{dbname}"


def pg_dsn(dbname: str, user: str | None = None) -> str:
    """The same server as libpq keywords (dbt's profile and psycopg2 take these)."""
    server = {**PG_SERVER, "dbname": dbname} | ({"user": user} if user else {})
    return " ".join(f"{k}={v}" for k, v in server.items() if v != "")


@contextmanager
def throwaway_pg_database(prefix: str, template: str | None = None) -> Iterator[str]:
    """Create a uniquely named database (a copy of `template`, a database name, when given),
    yield its URL, drop it (connections included)."""
    import psycopg

    try:
        admin = psycopg.connect(pg_url("postgres"), autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        pytest.fail(NO_POSTGRES, pytrace=False)  # never skip: a broken setup must not go green
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        admin.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        yield pg_url(name)
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
