"""A synthetic HOSxP hospital in the machine's MariaDB, for the HOSxP connector tests.

Each hospital is its own throwaway database with its own read-only login (the connector
never runs as root); both are dropped afterwards. MariaDB not answering fails the test:
the connector is only ever tested against a real server.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pymysql

from connectors.hosxp import HosxpConnector, HosxpSettings
from synthetic.hosxp import HosxpWorld, create_hosxp_database, grant_reader, insert_rows

MARIADB = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
HOSPITAL = "10913"


@dataclass
class HosxpHospital:
    database: str
    world: HosxpWorld
    settings: HosxpSettings
    secrets_file: Path
    admin: pymysql.connections.Connection

    def connector(self, **changes: Any) -> HosxpConnector:
        return HosxpConnector(self.settings.model_copy(update=changes))

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Change the hospital's database as HOSxP would (as root, committed)."""
        with self.admin.cursor() as cursor:
            cursor.execute(sql, params)
        self.admin.commit()

    def insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        with self.admin.cursor() as cursor:
            insert_rows(cursor, table, rows)
        self.admin.commit()


def connect_admin() -> pymysql.connections.Connection:
    try:
        return pymysql.connect(**MARIADB, charset="utf8mb4", autocommit=False)
    except pymysql.MySQLError as error:
        raise AssertionError(
            "MariaDB at 127.0.0.1:3306 does not answer (scripts/ensure_services.sh starts it)"
        ) from error


@contextmanager
def hosxp_hospital(
    folder: Path,
    start: date,
    *,
    days: int = 3,
    patients: int = 30,
    prefix: str = "hl13",
) -> Iterator[HosxpHospital]:
    """A hospital of `patients` patients over `days` days from `start` (bench/connectors.py
    builds a large one, under its own database name `prefix`)."""
    admin = connect_admin()
    database = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    reader, password = f"{database}_r", secrets.token_urlsafe(12)
    try:
        world = create_hosxp_database(
            admin, database, hospital_code=HOSPITAL, start=start, days=days, patients=patients
        )
        grant_reader(admin, database, reader, password)
        secrets_file = folder / "hosxp-secrets.json"
        entry = {
            "host": MARIADB["host"],
            "port": MARIADB["port"],
            "user": reader,
            "password": password,
        }
        secrets_file.write_text(json.dumps({HOSPITAL: entry}), encoding="utf-8")
        settings = HosxpSettings(database=database, secrets_file=secrets_file, secrets_key=HOSPITAL)
        yield HosxpHospital(database, world, settings, secrets_file, admin)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{database}`")
            cursor.execute("DROP USER IF EXISTS %s@'%%'", (reader,))
        admin.close()
