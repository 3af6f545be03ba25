"""The API's PostgreSQL connections: as healthlink_api (reads), as the citizen app (consent).

The API never connects with the warehouse's administrative DSN: it derives a URL for its own
role from HEALTHLINK_WAREHOUSE (same host, port and database; user `healthlink_api`, password
from HEALTHLINK_PG_API_PASSWORD) unless HEALTHLINK_API_WAREHOUSE_URL names one. It does not
run the migration either (its role may not): `healthlink migrate` does. Connections are
pooled by psycopg_pool: a connection returned inside a transaction is rolled back first, a
broken one is discarded, each is checked before it is handed out (a restarted server costs
one reconnect, not an error), and the physician context is transaction-local
(set_config(..., true)), so nothing carries over from one request to the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool

from warehouse.storage.connection import WarehouseConnection
from warehouse.storage.postgres import PostgresConnection

API_ROLE = "healthlink_api"
CITIZEN_APP_ROLE = "healthlink_citizen_app"
# Operations staff: SELECT on ops and audit only (migration 004); the ops page reads as it.
OPS_ROLE = "healthlink_ops"


class ConnectionPool:
    """psycopg_pool's thread-safe pool, each connection handed out in the warehouse adapter."""

    def __init__(self, url: str, max_size: int = 16, timeout_seconds: float = 30.0) -> None:
        self._pool: psycopg_pool.ConnectionPool[psycopg.Connection[Any]] = (
            psycopg_pool.ConnectionPool(
                url,
                kwargs={
                    "autocommit": True,
                    "cursor_factory": psycopg.ClientCursor,
                    "application_name": "healthlink",
                },
                min_size=1,
                max_size=max_size,
                timeout=timeout_seconds,
                check=psycopg_pool.ConnectionPool.check_connection,
                open=True,
            )
        )

    @contextmanager
    def connection(self) -> Iterator[WarehouseConnection]:
        with self._pool.connection() as raw:
            yield PostgresConnection(raw)

    def close(self) -> None:
        self._pool.close()
