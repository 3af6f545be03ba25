"""Naive UTC timestamps for the API tables (the warehouse convention for event times)."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
