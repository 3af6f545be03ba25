"""The connection interface every module above storage speaks, and the SQL dialects.

Both adapters (warehouse.storage.connection's DuckDB one, warehouse.storage.postgres) implement
`WarehouseConnection`; they import this module, never each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Literal, Protocol

import pyarrow as pa

Dialect = Literal["duckdb", "postgres"]


class Cursor(Protocol):
    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class WarehouseConnection(Protocol):
    """What the warehouse modules may use; both adapters implement exactly this."""

    dialect: Dialect

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> Cursor: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def transaction(self) -> AbstractContextManager[None]: ...

    def in_transaction(self) -> bool:
        """Whether a transaction is open on this connection: CHECKPOINT and VACUUM cannot run
        inside one."""
        ...

    def insert_arrow(self, qualified_table: str, table: pa.Table) -> None: ...

    def query_arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table: ...

    def insert_parquet(self, qualified_table: str, path: Path, columns: list[str]) -> None:
        """Bulk insert the given columns of a Parquet file (DuckDB scans it in place)."""
        ...

    def create_temp_table(self, name: str, select_sql: str, params: Sequence[Any] = ()) -> None:
        """A session-private table from a query, gone at the end of the transaction on
        PostgreSQL (ON COMMIT DROP); callers drop it explicitly for DuckDB's sake."""
        ...
