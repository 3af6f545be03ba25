"""The HOSxP database as a source: one read-only, consistent snapshot per extract.

Rows stream through a server-side cursor (pymysql SSDictCursor), so a large day never sits
whole in the driver. Connection errors are reported by MariaDB error number only: the
driver's message would name the user and host.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pymysql  # type: ignore[import-untyped]
import pymysql.cursors  # type: ignore[import-untyped]

from connectors.base import ExtractError
from connectors.hosxp.credentials import Credentials

CONNECT_TIMEOUT_S = 10
# A day's extract of a large hospital streams for minutes; a stalled server must not hang
# the DAG task forever.
READ_TIMEOUT_S = 600


class HosxpSource:
    def __init__(self, connection: pymysql.connections.Connection) -> None:
        self._connection = connection

    def columns(self) -> dict[str, set[str]]:
        """Every table of the schema and its columns, names in lower case."""
        with self._connection.cursor(pymysql.cursors.Cursor) as cursor:
            cursor.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = DATABASE()"
            )
            found: dict[str, set[str]] = {}
            for table, column in cursor.fetchall():
                found.setdefault(str(table).lower(), set()).add(str(column).lower())
        return found

    def national_ids(self) -> Iterator[str | None]:
        """patient.cid of every patient, streamed (personal: never logged or stored)."""
        with self._connection.cursor(pymysql.cursors.SSCursor) as cursor:
            try:
                cursor.execute("SELECT cid FROM patient")
                for (cid,) in cursor:
                    yield cid
            except pymysql.MySQLError as error:
                raise _as_extract_error(error, "reading") from None

    def rows(self, sql: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        with self._connection.cursor(pymysql.cursors.SSDictCursor) as cursor:
            try:
                cursor.execute(sql, params)
                yield from cursor
            except pymysql.MySQLError as error:
                raise _as_extract_error(error, "reading") from None


@contextmanager
def open_source(credentials: Credentials, database: str) -> Iterator[HosxpSource]:
    try:
        connection = pymysql.connect(
            host=credentials.host,
            port=credentials.port,
            user=credentials.user,
            password=credentials.password.get_secret_value(),
            database=database,
            charset="utf8mb4",
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S,
        )
    except pymysql.MySQLError as error:
        raise _as_extract_error(error, "connecting") from None
    try:
        with connection.cursor() as cursor:
            # Every query of the extract sees the same committed state of the database.
            cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        yield HosxpSource(connection)
    finally:
        connection.close()


def _as_extract_error(error: pymysql.MySQLError, doing: str) -> ExtractError:
    number = error.args[0] if error.args and isinstance(error.args[0], int) else None
    return ExtractError(
        "source_unreachable",
        f"HOSxP database error while {doing} (MariaDB error {number}, {type(error).__name__})",
    )
