"""ISO weeks in the municipality's zone, including weeks across the New Year."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from rating.weeks import InvalidWeekError, shift_week, week_bounds, week_of, week_start_date

VLAD = ZoneInfo("Asia/Vladivostok")


def test_week_bounds_are_local_mondays_in_utc() -> None:
    start, end = week_bounds("2026-W47", "Asia/Vladivostok")
    assert start == datetime(2026, 11, 15, 14, 0, tzinfo=UTC)
    assert end == datetime(2026, 11, 22, 14, 0, tzinfo=UTC)
    assert start.astimezone(VLAD) == datetime(2026, 11, 16, 0, 0, tzinfo=VLAD)


def test_week_one_can_start_in_the_previous_year() -> None:
    assert week_start_date("2025-W01") == date(2024, 12, 30)
    start, _ = week_bounds("2025-W01", VLAD)
    assert start.astimezone(VLAD).date() == date(2024, 12, 30)


def test_2026_has_a_53rd_week_and_2025_does_not() -> None:
    # 1 January 2026 is a Thursday, so ISO 2026 has 53 weeks: 28.12.2026–03.01.2027.
    start, end = week_bounds("2026-W53", VLAD)
    assert start.astimezone(VLAD).date() == date(2026, 12, 28)
    assert end.astimezone(VLAD).date() == date(2027, 1, 4)
    assert week_of(datetime(2027, 1, 3, 23, 59, tzinfo=VLAD), VLAD) == "2026-W53"
    assert shift_week("2026-W53", 1) == "2027-W01"
    with pytest.raises(InvalidWeekError):
        week_bounds("2025-W53", VLAD)


@pytest.mark.parametrize("label", ["2026-47", "2026-W7", "W47", "2026-W00", "2026-W54", ""])
def test_malformed_weeks_are_rejected(label: str) -> None:
    with pytest.raises(InvalidWeekError):
        week_start_date(label)


def test_week_of_uses_the_local_date() -> None:
    # Sunday 15.11.2026 15:00 UTC is already Monday 01:00 in Vladivostok.
    assert week_of(datetime(2026, 11, 15, 15, 0, tzinfo=UTC), VLAD) == "2026-W47"
    assert week_of(datetime(2026, 11, 15, 13, 59, tzinfo=UTC), VLAD) == "2026-W46"
    with pytest.raises(ValueError):
        week_of(datetime(2026, 11, 15), VLAD)


def test_shift_week_across_years() -> None:
    assert shift_week("2025-W01", -1) == "2024-W52"
    assert shift_week("2026-W47", -12) == "2026-W35"
    assert shift_week("2026-W52", 2) == "2027-W01"
