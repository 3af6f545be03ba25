"""The extract of a day for sources that are not folders (a database, a FHIR server).

A file extract is what the hospital put in the day's folder. A database or a FHIR server
has no such folder: the extract for date D is every record updated from the start of
D minus `overlap_days` to the end of D, in Asia/Bangkok, where the hospitals keep their
clocks. The overlap catches records written late (a visit finalised the next morning);
the loader's delete + insert by record key makes the repeated records harmless. A re-run
or a backfill of D asks for the same window, so it reads the same records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

BANGKOK: Final = ZoneInfo("Asia/Bangkok")
DEFAULT_OVERLAP_DAYS: Final = 2


class WindowSettings(BaseModel):
    """The part of a database or FHIR connector's YAML block that sets its window."""

    overlap_days: int = Field(
        DEFAULT_OVERLAP_DAYS,
        ge=0,
        le=31,
        description="days before the extract date also read again, for records written late",
    )


@dataclass(frozen=True)
class ExtractWindow:
    """[start, end) in Asia/Bangkok: the records updated in it make the day's extract."""

    start: datetime
    end: datetime

    @classmethod
    def for_day(cls, extract_date: date, overlap_days: int = DEFAULT_OVERLAP_DAYS) -> ExtractWindow:
        if overlap_days < 0:
            raise ValueError("overlap_days must be 0 or more")
        first = extract_date - timedelta(days=overlap_days)
        start = datetime.combine(first, time.min, tzinfo=BANGKOK)
        end = datetime.combine(extract_date + timedelta(days=1), time.min, tzinfo=BANGKOK)
        return cls(start, end)

    def contains(self, moment: datetime) -> bool:
        """Whether `moment` (naive: Bangkok wall time, as HOSxP stores it) is in the window."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=BANGKOK)
        return self.start <= moment < self.end

    @property
    def start_local(self) -> datetime:
        """The start as naive Bangkok wall time (what a HOSxP column compares with)."""
        return self.start.replace(tzinfo=None)

    @property
    def end_local(self) -> datetime:
        return self.end.replace(tzinfo=None)

    @property
    def start_utc(self) -> datetime:
        """The start in UTC (what a FHIR `_since` or `_lastUpdated` carries)."""
        return self.start.astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        return self.end.astimezone(UTC)

    def describe(self) -> str:
        return f"records updated from {self.start.isoformat()} to before {self.end.isoformat()}"
