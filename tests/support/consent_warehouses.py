"""A dbt-built warehouse per backend for the stateful test: built once, copied per example.

The template holds the warehouse schema (and, on PostgreSQL, the migration's roles, grants
and row-level security), the consent test patients' preloaded raw rows and everything a real
`dbt build` makes of them. Each hypothesis example gets a fresh copy: a new
DuckDB file under a new directory (dbt-duckdb keeps its DuckDB instance open for the life of
the process, and DuckDB hands that instance to whoever opens the same path, so a path is
never reused for another file), or the same PostgreSQL database name recreated from the
template (dbt's partial parsing, keyed by the connection profile, then stays valid).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import duckdb

from tests.support.consent_kit import KEY, registry
from tests.support.consent_published import preload_rows
from warehouse.consent.sender_choice import sync_hospitals
from warehouse.pipeline.transform import run_dbt
from warehouse.settings import Settings
from warehouse.storage.connection import DuckDBConnection, WarehouseConnection, connect
from warehouse.storage.schema import setup_schema

API_ROLE = "healthlink_api"


@dataclass
class ExampleWarehouse:
    """One backend's warehouse for the examples: `reset` before each, `open` to use it."""

    root: Path
    url: str = ""  # empty: DuckDB; else the PostgreSQL database the examples use
    examples: int = 0  # examples so far; each has its own home (warehouse file, landing)

    @property
    def home(self) -> Path:
        return self.root / (f"example-{self.examples}" if self.examples else "template")

    @property
    def backend(self) -> str:
        return "postgres" if self.url else "duckdb"

    @property
    def settings(self) -> Settings:
        return Settings(
            home=self.home,
            warehouse=self.url,
            registry_dir=self.home / "registry",
            pseudonym_key=KEY.decode(),  # type: ignore[arg-type]
            environment="test",
        )

    @property
    def extracts(self) -> Path:
        return self.home / "extracts"

    @property
    def dbt_paths(self) -> list[str]:
        """dbt's target and logs stay with this warehouse (parallel tests share no files)."""
        return [
            "--target-path",
            str(self.root / "target"),
            "--log-path",
            str(self.root / "logs"),
            "--quiet",
        ]

    @property
    def _template_file(self) -> Path:
        return self.root / "template" / "warehouse.duckdb"

    @property
    def _database(self) -> str:
        return urlsplit(self.url).path.lstrip("/")

    @property
    def _template_database(self) -> str:
        return f"{self._database}_template"

    def build(self) -> None:
        """The template: schema, hospitals, preloaded raw rows, then `dbt build`."""
        settings = self.settings
        with connect(settings) as conn:
            setup_schema(conn)
            sync_hospitals(conn, registry(h4_since=None))
            preload_rows(conn)
        run_dbt(["build", *self.dbt_paths], settings)  # seeds, models and their tests
        if self.url:
            # No session may use a database that is renamed or copied.
            with _admin(self.url) as admin:
                _disconnect(admin, self._database)
                admin.execute(
                    f"ALTER DATABASE {self._database} RENAME TO {self._template_database}"
                )
            return
        built = duckdb.connect(str(settings.duckdb_path))
        try:
            built.execute("CHECKPOINT")  # the copies below take the file alone
        finally:
            built.close()

    def reset(self) -> None:
        """A fresh copy of the template in a new home; the previous example's is removed."""
        if self.examples:
            shutil.rmtree(self.home, ignore_errors=True)
        self.examples += 1
        settings = self.settings
        settings.home.mkdir(parents=True)
        if self.url:
            with _admin(self.url) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {self._database} WITH (FORCE)")
                admin.execute(
                    f"CREATE DATABASE {self._database} TEMPLATE {self._template_database}"
                )
            return
        shutil.copyfile(self._template_file, settings.duckdb_path)

    def open(self) -> WarehouseConnection:
        """A connection of the test's own, outside the pipeline's writer lock: close it
        before the pipeline runs (DuckDB allows one writing process per file)."""
        if self.url:
            from warehouse.storage.postgres import PostgresConnection, open_postgres

            return PostgresConnection(open_postgres(self.url))
        return DuckDBConnection(duckdb.connect(str(self.settings.duckdb_path)))

    @contextmanager
    def api_session(self) -> Iterator[WarehouseConnection]:
        """PostgreSQL only: connected as the API's role, in one transaction (set_physician's
        settings last for the transaction)."""
        from warehouse.storage.postgres import PostgresConnection, open_postgres

        parts = urlsplit(self.url)
        netloc = f"{API_ROLE}@{parts.hostname}:{parts.port or 5432}"
        conn = PostgresConnection(open_postgres(urlunsplit(parts._replace(netloc=netloc))))
        try:
            with conn.transaction():
                yield conn
        finally:
            conn.raw.close()

    def drop(self) -> None:
        """PostgreSQL: the template (the example database goes with throwaway_pg_database)."""
        if self.url:
            with _admin(self.url) as admin:
                admin.execute(f"DROP DATABASE IF EXISTS {self._template_database} WITH (FORCE)")


@contextmanager
def _admin(url: str) -> Iterator[Any]:
    """An autocommit psycopg connection to the server's maintenance database."""
    import psycopg  # only the PostgreSQL variant needs it

    parts = urlsplit(url)
    conn = psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True)
    try:
        yield conn
    finally:
        conn.close()


def _disconnect(admin: Any, database: str) -> None:
    """Sessions this process left on `database` (dbt's pool may keep one)."""
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()",
        [database],
    )
