"""One result row of a HOSxP query, read leniently: a value that cannot be read becomes
None and its column is remembered, so the connector can reject the row naming table, key
and field instead of failing the extract."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final

# pymysql hands back a DATE or DATETIME it cannot build as the text MariaDB sent.
_ZERO_DATE: Final = re.compile(r"^0000-00-00(?: 00:00:00(?:\.0+)?)?$")
TIME_SUFFIX: Final = "__time"  # result column of a DATE's TIME part (`start_at__time`)


class SourceRow:
    def __init__(self, table: str, key: Sequence[str], values: Mapping[str, Any]) -> None:
        self.table = table
        self.key = key
        self.values = values
        self.unreadable: list[str] = []

    @property
    def primary_key(self) -> str:
        return "|".join(self.text(column) or "" for column in self.key)

    def record_key(self, *extra: str) -> str:
        return "|".join((self.table, self.primary_key, *extra))

    def text(self, column: str) -> str | None:
        value = self.values[column]
        if value is None:
            return None
        if isinstance(value, bytes | bytearray):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                self._unreadable(column)
                return None
        text = str(value).strip()
        return text or None

    def day(self, column: str) -> date | None:
        value = self.values[column]
        if isinstance(value, datetime):
            return value.date()
        if value is None or isinstance(value, date):
            return value
        self._zero_or_unreadable(column, value)
        return None

    def moment(self, column: str) -> datetime | None:
        """A DATETIME column, or a DATE column with its TIME part in `column + TIME_SUFFIX`
        when the query selected one (absent time: midnight)."""
        value = self.values[column]
        if isinstance(value, datetime):
            return value
        if value is None:
            return None
        if not isinstance(value, date):
            self._zero_or_unreadable(column, value)
            return None
        clock = self.values.get(column + TIME_SUFFIX)
        if clock is None:
            return datetime.combine(value, time.min)
        # MariaDB's TIME spans -838 to 838 hours; a time of day lies in [0, 24 h).
        if isinstance(clock, timedelta) and timedelta(0) <= clock < timedelta(days=1):
            return datetime.combine(value, time.min) + clock
        self._unreadable(column + TIME_SUFFIX)
        return None

    def number(self, column: str) -> float | None:
        value = self.values[column]
        if value is None:
            return None
        if isinstance(value, int | float | Decimal):
            return float(value)
        text = self.text(column)
        if text is None:
            return None
        try:
            return float(text)
        except ValueError:
            self._unreadable(column)
            return None

    def _zero_or_unreadable(self, column: str, value: object) -> None:
        # MariaDB's zero date is how HOSxP writes "no date": absent, hence null. Any other
        # date pymysql could not build (30 February) is present but unreadable.
        if isinstance(value, str) and _ZERO_DATE.match(value.strip()):
            return
        self._unreadable(column)

    def _unreadable(self, column: str) -> None:
        self.unreadable.append(column)
