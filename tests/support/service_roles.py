"""Connections and queries as the service roles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from tests.support.raw_fixture import bangkok_now

API = "healthlink_api"
CATEGORIES = (
    "encounter",
    "diagnosis",
    "medication_dispense",
    "procedure",
    "immunization",
    "vital_sign",
    "lab_result",
    "imaging_report",
    "allergy",
)
# What the API may read: the views and the protected tables behind them.
PATIENT_RELATIONS = tuple(f"published.{c}" for c in CATEGORIES) + tuple(
    f"published.{c}_rows" for c in CATEGORIES
)


@contextmanager
def connect(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """A pooled-style connection: autocommit off, every block below is one transaction."""
    conn = psycopg.connect(dsn)
    try:
        yield conn
    finally:
        conn.close()


def act_as_physician(conn: psycopg.Connection[Any], licence: str, hospital: str) -> None:
    """What the API does at the start of each request: transaction-scoped settings."""
    conn.execute(
        "SELECT set_config('healthlink.physician_licence', %s, true),"
        " set_config('healthlink.physician_hospital', %s, true)",
        [licence, hospital],
    )


def one(conn: psycopg.Connection[Any], sql: str, params: list[Any] | None = None) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0] if len(row) == 1 else row


def grant_per_visit(
    dsn: str, licence: str, physician_hospital: str, patient: str, source: str, *, hours: float
) -> None:
    """A per-visit approval as the citizen app writes it; negative hours = already expired."""
    now = bangkok_now()
    with connect(dsn) as conn:
        conn.execute(
            "INSERT INTO consent.per_visit_grant VALUES (%s, %s, %s, %s, %s, %s)",
            [
                licence,
                physician_hospital,
                patient,
                source,
                now - dt.timedelta(hours=1),
                now + dt.timedelta(hours=hours),
            ],
        )
        conn.commit()
