"""Shifting a moment by working time and the end of its working day (used by incident pauses)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from core.calendar import WorkCalendar

CALENDAR_YAML = Path(__file__).resolve().parents[3] / "config" / "calendar.yaml"
TZ = "Asia/Vladivostok"
VL = ZoneInfo(TZ)
CAL = WorkCalendar.from_mapping(yaml.safe_load(CALENDAR_YAML.read_text(encoding="utf-8")), tz=TZ)
PROPS = settings(deadline=None, max_examples=150)

moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 11, 30), timezones=st.just(VL)
)
# Whole minutes up to ~30 working days, like the pauses the event times give.
amounts = st.integers(min_value=0, max_value=30 * 8 * 60).map(lambda m: timedelta(minutes=m))


def vl(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VL)


def test_zero_shift_leaves_even_a_night_moment_alone() -> None:
    night = vl(2026, 3, 6, 22)  # Friday night: add_working_hours(…, 0) would give Tue 09:00
    assert CAL.shift_by_working_time(night, timedelta(0)) == night
    assert CAL.add_working_hours(night, 0) == vl(2026, 3, 10, 9)


def test_shift_skips_lunch_weekend_and_the_holiday() -> None:
    # Fri 6 March 12:00 + 3 h: 1 h before lunch, 2 h after → 16:00 the same day.
    assert CAL.shift_by_working_time(vl(2026, 3, 6, 12), timedelta(hours=3)) == vl(2026, 3, 6, 16)
    # Fri 17:00 + 2 h: 1 h on Friday; Sat, Sun and Mon 9 March off → Tue 10:00.
    assert CAL.shift_by_working_time(vl(2026, 3, 6, 17), timedelta(hours=2)) == vl(2026, 3, 10, 10)


def test_negative_shift_is_refused() -> None:
    with pytest.raises(ValueError, match="amount"):
        CAL.shift_by_working_time(vl(2026, 3, 2, 10), timedelta(minutes=-1))


@pytest.mark.parametrize(
    ("moment", "end"),
    [
        (vl(2026, 3, 2, 10), vl(2026, 3, 2, 18)),  # Monday morning
        (vl(2026, 3, 2, 18), vl(2026, 3, 2, 18)),  # exactly at the end
        (vl(2026, 3, 2, 18, 1), vl(2026, 3, 3, 18)),  # after it: the next working day
        (vl(2026, 3, 7, 12), vl(2026, 3, 10, 18)),  # Saturday; Monday 9 March is off
        (vl(2026, 4, 30, 9), vl(2026, 4, 30, 17)),  # shortened pre-holiday day
        (vl(2026, 12, 30, 19), vl(2027, 1, 11, 18)),  # over the New Year holidays
    ],
)
def test_end_of_working_day(moment: datetime, end: datetime) -> None:
    assert CAL.end_of_working_day(moment) == end


@PROPS
@given(moments, amounts)
def test_shift_adds_exactly_that_working_time(moment: datetime, amount: timedelta) -> None:
    shifted = CAL.shift_by_working_time(moment, amount)
    assert shifted >= moment
    assert CAL.working_time_between(moment, shifted) == amount


@PROPS
@given(moments, moments, amounts, amounts)
def test_shift_is_monotone_in_the_moment_and_the_amount(
    a: datetime, b: datetime, p: timedelta, q: timedelta
) -> None:
    (early, late), (small, big) = sorted((a, b)), sorted((p, q))
    assert CAL.shift_by_working_time(early, small) <= CAL.shift_by_working_time(late, small)
    assert CAL.shift_by_working_time(early, small) <= CAL.shift_by_working_time(early, big)


@PROPS
@given(moments, amounts, amounts)
def test_two_shifts_make_one(moment: datetime, p: timedelta, q: timedelta) -> None:
    twice = CAL.shift_by_working_time(CAL.shift_by_working_time(moment, p), q)
    assert twice == CAL.shift_by_working_time(moment, p + q)


@PROPS
@given(moments, moments, amounts)
def test_shifting_both_ends_keeps_the_working_time_between(
    a: datetime, b: datetime, amount: timedelta
) -> None:
    early, late = sorted((a, b))
    before = CAL.working_time_between(early, late)
    after = CAL.working_time_between(
        CAL.shift_by_working_time(early, amount), CAL.shift_by_working_time(late, amount)
    )
    assert after == before  # why a pause moves the ladder's start and its deadline alike


@PROPS
@given(moments)
def test_end_of_working_day_is_a_day_end_not_before_the_moment(moment: datetime) -> None:
    end = CAL.end_of_working_day(moment)
    local = end.astimezone(VL)
    assert end >= moment
    assert CAL.is_working_day(local.date())
    assert local.timetz().replace(tzinfo=None) == (
        time(17) if CAL.is_shortened(local.date()) else time(18)
    )
    # No working day ends between the moment and the result.
    day = moment.astimezone(VL).date()
    while day < local.date():
        assert not CAL.working_intervals(day) or CAL.working_intervals(day)[-1][1] < moment
        day += timedelta(days=1)


def test_a_shift_crosses_the_new_year_holidays() -> None:
    # 31 December 2026 and 1–8 January 2027 are off, Monday 11 January is the next working day.
    assert CAL.shift_by_working_time(vl(2026, 12, 30, 17), timedelta(hours=2)) == vl(
        2027, 1, 11, 10
    )
    assert date(2027, 1, 11).weekday() == 0
