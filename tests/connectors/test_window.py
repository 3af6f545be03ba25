"""The day's window of a database or FHIR source: Asia/Bangkok days, an overlap, the same
window however often the day is read again."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from connectors.window import ExtractWindow, WindowSettings

DAY = date(2026, 11, 23)


def test_the_window_runs_from_the_overlaps_first_bangkok_midnight_to_the_end_of_the_day():
    window = ExtractWindow.for_day(DAY, overlap_days=2)
    # Bangkok is UTC+7 all year: midnight there is 17:00 UTC the evening before.
    assert window.start_utc == datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
    assert window.end_utc == datetime(2026, 11, 23, 17, 0, tzinfo=UTC)
    assert window.start_local == datetime(2026, 11, 21)
    assert window.end_local == datetime(2026, 11, 24)


def test_a_rerun_or_backfill_of_the_day_reads_the_same_window():
    assert ExtractWindow.for_day(DAY, 2) == ExtractWindow.for_day(DAY, 2)
    assert ExtractWindow.for_day(DAY, 0).start_local == datetime(2026, 11, 23)


def test_naive_source_times_are_bangkok_wall_time_and_the_end_is_exclusive():
    window = ExtractWindow.for_day(DAY, overlap_days=0)
    assert window.contains(datetime(2026, 11, 23, 0, 0))
    assert window.contains(datetime(2026, 11, 23, 23, 59, 59))
    assert not window.contains(datetime(2026, 11, 24, 0, 0))
    # 23:30 UTC on the 22nd is 06:30 on the 23rd in Bangkok.
    assert window.contains(datetime(2026, 11, 22, 23, 30, tzinfo=UTC))
    assert not window.contains(datetime(2026, 11, 22, 16, 59, tzinfo=UTC))


def test_the_overlap_is_bounded():
    with pytest.raises(ValueError):
        WindowSettings(overlap_days=-1)
    with pytest.raises(ValueError):
        WindowSettings(overlap_days=400)
    assert WindowSettings().overlap_days == 2
