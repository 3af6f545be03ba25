"""The one clock: instants in UTC, calendar days judged in Asia/Bangkok.

Events carry UTC instants (naive TIMESTAMP columns holding UTC). Calendar rules (once a day,
rejoin from the next day, a grant lasts until the end of the day) are judged on the
Asia/Bangkok calendar. The projection tables the dbt views read keep naive Bangkok wall-clock
time, because the views compare them with `now() at time zone 'Asia/Bangkok'` (the
`local_now()` macro).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

BANGKOK = ZoneInfo("Asia/Bangkok")


def utc_now() -> datetime:
    return datetime.now(UTC)


def storage_now() -> datetime:
    """Now as naive UTC, for the TIMESTAMP columns that hold UTC (the storage convention;
    docs/contract.md lists the columns that hold Bangkok wall-clock time instead)."""
    return to_storage(utc_now())


def as_utc(moment: datetime) -> datetime:
    """An aware UTC instant; a naive value is read as UTC (how the event log stores it)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def utc_or_now(moment: datetime | None) -> datetime:
    """`moment` as an aware UTC instant (`as_utc`), or now when it is None."""
    return as_utc(moment) if moment is not None else utc_now()


def to_storage(moment: datetime) -> datetime:
    """Naive UTC, for the event log's TIMESTAMP columns."""
    return as_utc(moment).replace(tzinfo=None)


def bangkok_day(moment: datetime) -> date:
    return as_utc(moment).astimezone(BANGKOK).date()


def bangkok_today() -> date:
    """Today on the Asia/Bangkok calendar: THE clock for "is this date in the future?"
    (who-could-see, sync and ingest dates, hospitals joining). One function, so a test or
    an operator reasons about a single notion of today."""
    return bangkok_day(utc_now())


def after_today(day: date) -> bool:
    """True for a day after today in Asia/Bangkok (no extract or history exists for it)."""
    return day > bangkok_today()


def bangkok_local(moment: datetime) -> datetime:
    """Naive Bangkok wall-clock time, for the projection tables the dbt views read."""
    return as_utc(moment).astimezone(BANGKOK).replace(tzinfo=None)


def start_of_bangkok_day(day: date) -> datetime:
    """The UTC instant at which `day` starts in Bangkok (aware)."""
    return datetime.combine(day, time.min, tzinfo=BANGKOK).astimezone(UTC)


def end_of_bangkok_day(moment: datetime) -> datetime:
    """The UTC instant at which the Bangkok day containing `moment` ends (aware)."""
    return start_of_bangkok_day(bangkok_day(moment) + timedelta(days=1))
