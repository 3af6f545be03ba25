"""What every request needs: settings, the compiled gate, the verifier, limits, the audit."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

from warehouse.api.config import ApiSettings
from warehouse.api.credentials import LocalPincodeVerifier, PincodeVerifier
from warehouse.api.name_index import NameIndex
from warehouse.api.ops_chart_cache import ChartCache
from warehouse.api.records import published_fact_columns
from warehouse.audit.trail import AuditTrail
from warehouse.hospital_registry import Registry, load_registry
from warehouse.settings import Settings, url_for_role
from warehouse.storage.connection import SharedDuckDB, WarehouseConnection
from warehouse.storage.pool import API_ROLE, CITIZEN_APP_ROLE, OPS_ROLE, ConnectionPool
from warehouse.storage.schema import setup_schema


@dataclass
class ApiContext:
    settings: Settings
    api: ApiSettings
    verifier: PincodeVerifier = field(default_factory=LocalPincodeVerifier)

    def __post_init__(self) -> None:
        self.name_index = NameIndex()
        self._fact_columns: tuple[int, dict[str, list[str]]] | None = None
        # Keyed audit appends; the head goes to the sink after every commit. Built here so
        # a missing or development audit key stops the API at start.
        self.audit = AuditTrail.from_settings(self.settings)

    @property
    def uses_postgres(self) -> bool:
        return self.settings.uses_postgres

    def prepare(self) -> None:
        """At startup: the schema is in place (DuckDB: the embedded warehouse's first-run
        setup creates it; PostgreSQL: `healthlink migrate` did, and the API role, which may
        not, stops with SchemaNotMigrated if not); on DuckDB the gate is compiled from dbt
        (on PostgreSQL the RLS policy applies it, and the API must not restate it)."""
        with self.connect() as conn:
            setup_schema(conn)
            self.audit.ensure_anchored(conn)
            self.name_index.ensure(conn)
        if not self.uses_postgres:
            _ = self.gate_sql

    @cached_property
    def gate_sql(self) -> str:
        """DuckDB only: the per-visit gate predicate for a view aliased `gated`."""
        from warehouse.api.gate import compile_gate

        return compile_gate(self.settings)

    @cached_property
    def _api_pool(self) -> ConnectionPool:
        url = self.api.warehouse_url.get_secret_value()
        return ConnectionPool(url or url_for_role(self.settings.warehouse, API_ROLE))

    @cached_property
    def _consent_pool(self) -> ConnectionPool:
        url = self.api.consent_service_url.get_secret_value()
        return ConnectionPool(url or url_for_role(self.settings.warehouse, CITIZEN_APP_ROLE))

    @cached_property
    def _ops_pool(self) -> ConnectionPool:
        return ConnectionPool(url_for_role(self.settings.warehouse, OPS_ROLE))

    @contextmanager
    def ops_reader(self, conn: WarehouseConnection) -> Iterator[WarehouseConnection]:
        """Where the operations page reads the ledger. DuckDB: the request's own connection.
        PostgreSQL: a connection as healthlink_ops (SELECT on ops and audit), because the API
        role reads published views and its own tables only."""
        if not self.uses_postgres:
            yield conn
            return
        with self._ops_pool.connection() as ops_conn:
            yield ops_conn

    @property
    def record_gate(self) -> str | None:
        """What records.read_record takes: the compiled gate on DuckDB, None on PostgreSQL."""
        return None if self.uses_postgres else self.gate_sql

    def record_fact_columns(self, conn: WarehouseConnection) -> dict[str, list[str]] | None:
        """DuckDB: records.published_fact_columns, read from the catalog once per opening of
        the file (reading them cost as much as two of the record's fact reads). A dbt build,
        the only thing that changes them, runs in a process that has the file while this
        one has given it up, so the next use reopens the file and reads them again."""
        if self.uses_postgres:
            return None
        opened = self._duckdb.opened
        if self._fact_columns is None or self._fact_columns[0] != opened:
            self._fact_columns = (opened, published_fact_columns(conn))
        return self._fact_columns[1]

    @contextmanager
    def consent_service(self, conn: WarehouseConnection) -> Iterator[WarehouseConnection]:
        """Where warehouse.consent runs (per-visit requests and decisions).

        DuckDB: the request's own connection (one file, one writer). PostgreSQL: a separate
        connection as healthlink_citizen_app, because the API role may not touch consent
        tables; its writes commit on their own, before the request's audit row."""
        if not self.uses_postgres:
            yield conn
            return
        with self._consent_pool.connection() as consent_conn:
            yield consent_conn

    @cached_property
    def _duckdb(self) -> SharedDuckDB:
        return SharedDuckDB(self.settings)

    def close(self) -> None:
        """Close the pools this context opened and the DuckDB file (when the app stops)."""
        shared = self.__dict__.pop("_duckdb", None)
        if shared is not None:
            shared.close()
        for name in ("_api_pool", "_consent_pool", "_ops_pool"):
            pool = self.__dict__.pop(name, None)  # opened only if a request needed it
            if pool is not None:
                pool.close()

    @cached_property
    def ops_charts(self) -> ChartCache:
        """The operations page's drawn charts, per filter, window and ledger version."""
        return ChartCache()

    @cached_property
    def registry(self) -> Registry:
        return load_registry(self.settings.registry_dir)

    @contextmanager
    def connect(self) -> Iterator[WarehouseConnection]:
        """One warehouse connection per request (DuckDB: a fresh connection to the file this
        process keeps open while no other process wants it, warehouse.storage.connection
        .SharedDuckDB; PostgreSQL: from the pool, as healthlink_api)."""
        if self.uses_postgres:
            with self._api_pool.connection() as conn:
                yield conn
            return
        with self._duckdb.connection() as conn:
            yield conn
