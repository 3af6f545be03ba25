"""The API's PostgreSQL connections: as healthlink_api (reads), as the citizen app (consent).

The API never connects with the warehouse's administrative DSN: it derives a URL for its own
role from HEALTHLINK_WAREHOUSE (same host, port and database; user `healthlink_api`, password
from HEALTHLINK_PG_API_PASSWORD) unless HEALTHLINK_API_WAREHOUSE_URL names one. It does not
run the migration either (its role may not): `healthlink migrate` does. Connections are
pooled; a connection goes back to the pool only when no transaction is open, and the
physician context is transaction-local (set_config(..., true)), so nothing carries over.
"""

from __future__ import annotations

import os
import queue
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg

from warehouse.storage.connection import WarehouseConnection
from warehouse.storage.migrations import password_variable
from warehouse.storage.postgres import PostgresConnection, open_postgres

API_ROLE = "healthlink_api"
CITIZEN_APP_ROLE = "healthlink_citizen_app"


def url_for_role(warehouse_url: str, role: str) -> str:
    """The warehouse URL with another user (and that role's password, when set)."""
    parts = urlsplit(warehouse_url)
    password = os.environ.get(password_variable(role), "")
    user = quote(role, safe="") + (f":{quote(password, safe='')}" if password else "")
    host = parts.hostname or "127.0.0.1"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = f"{user}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class ConnectionPool:
    """A small thread-safe pool of autocommit connections wrapped in the warehouse adapter."""

    def __init__(self, url: str, max_idle: int = 8) -> None:
        self.url = url
        self._idle: queue.LifoQueue[PostgresConnection] = queue.LifoQueue(maxsize=max_idle)

    @contextmanager
    def connection(self) -> Iterator[WarehouseConnection]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = PostgresConnection(open_postgres(self.url))
        try:
            yield conn
        finally:
            self._release(conn)

    def _release(self, conn: PostgresConnection) -> None:
        """Back to the pool only when clean (an exception inside a transaction rolled back)."""
        raw: Any = conn.raw
        idle = raw.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        if idle and not raw.closed:
            try:
                self._idle.put_nowait(conn)
                return
            except queue.Full:
                pass
        raw.close()

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().raw.close()
            except queue.Empty:
                return
