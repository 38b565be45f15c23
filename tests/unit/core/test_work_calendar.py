"""WorkCalendar: the real production calendar, hand-worked deadlines, properties, validation."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from core.calendar import FEDERAL_HOLIDAYS, WorkCalendar

CALENDAR_YAML = Path(__file__).resolve().parents[3] / "config" / "calendar.yaml"
VLAD = ZoneInfo("Asia/Vladivostok")
HOUR = timedelta(hours=1)


def _load() -> WorkCalendar:
    with CALENDAR_YAML.open(encoding="utf-8") as fh:
        return WorkCalendar.from_mapping(yaml.safe_load(fh), tz="Asia/Vladivostok")


CAL = _load()


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=VLAD)


def days_of(year: int) -> list[date]:
    first = date(year, 1, 1)
    return [first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days)]


# --- the calendar file -------------------------------------------------------------------


def test_years_covered_and_zone() -> None:
    assert CAL.years_covered == (2025, 2026, 2027)
    assert CAL.tz == VLAD


# Verified totals for the 5-day week: 2025 — decree № 1335, 2026 — decree № 1466.
OFFICIAL_TOTALS = [(2025, 247, 1972), (2026, 247, 1972)]


@pytest.mark.parametrize(("year", "working_days", "hours_40h"), OFFICIAL_TOTALS)
def test_yearly_totals_match_the_official_calendar(
    year: int, working_days: int, hours_40h: int
) -> None:
    assert sum(CAL.is_working_day(d) for d in days_of(year)) == working_days
    assert CAL.working_time_between(at(year, 1, 1), at(year + 1, 1, 1)) == hours_40h * HOUR


def test_2026_quarter_totals_match_the_official_calendar() -> None:
    quarters = [(at(2026, m, 1), at(2026, m + 3, 1)) for m in (1, 4, 7)]
    quarters.append((at(2026, 10, 1), at(2027, 1, 1)))
    hours = [CAL.working_time_between(a, b) / HOUR for a, b in quarters]
    assert hours == [440, 493, 528, 511]


def test_2027_is_the_unverified_art112_derivation() -> None:
    # Update together with the YAML once the 2027 transfer decree is published.
    assert sum(CAL.is_working_day(d) for d in days_of(2027)) == 249
    assert CAL.working_time_between(at(2027, 1, 1), at(2028, 1, 1)) == 1987 * HOUR


@pytest.mark.parametrize("year", [2025, 2026, 2027])
def test_every_fixed_holiday_on_a_weekday_is_off(year: int) -> None:
    for month, day in FEDERAL_HOLIDAYS:
        assert not CAL.is_working_day(date(year, month, day)), f"{year}-{month}-{day}"


def test_transfers_of_2025() -> None:
    assert CAL.is_working_day(date(2025, 11, 1))  # working Saturday
    assert CAL.is_shortened(date(2025, 11, 1))
    for moved_off in (date(2025, 5, 2), date(2025, 5, 8), date(2025, 6, 13), date(2025, 11, 3)):
        assert not CAL.is_working_day(moved_off)
    assert not CAL.is_working_day(date(2025, 12, 31))
    assert CAL.is_working_day(date(2025, 12, 30))
    assert not CAL.is_shortened(date(2025, 12, 30))  # Dec 31 is a moved day off, not a holiday


def test_outside_covered_years_falls_back_to_weekdays_minus_fixed_holidays() -> None:
    assert not CAL.is_working_day(date(2028, 1, 3))  # Monday, Jan 3
    assert CAL.is_working_day(date(2028, 1, 10))
    assert not CAL.is_working_day(date(2028, 3, 8))  # Wednesday
    assert not CAL.is_working_day(date(2024, 11, 4))  # Monday
    assert not CAL.is_working_day(date(2028, 1, 15))  # Saturday
    assert CAL.is_working_day(date(2028, 2, 22))
    assert not CAL.is_shortened(date(2028, 2, 22))


def test_working_intervals() -> None:
    assert CAL.working_intervals(date(2025, 12, 29)) == [
        (at(2025, 12, 29, 9), at(2025, 12, 29, 13)),
        (at(2025, 12, 29, 14), at(2025, 12, 29, 18)),
    ]
    assert CAL.working_intervals(date(2025, 3, 7))[-1] == (at(2025, 3, 7, 14), at(2025, 3, 7, 17))
    assert CAL.working_intervals(date(2025, 1, 1)) == []
    assert CAL.working_intervals(date(2025, 12, 27)) == []


# --- hand-worked deadlines ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        # Friday 17:30: half an hour left, the rest on Monday morning.
        (at(2025, 12, 26, 17, 30), 4, at(2025, 12, 29, 12, 30)),
        # Dec 31 is off; Jan 1–11 are the New Year holidays.
        (at(2025, 12, 31, 10), 8, at(2026, 1, 12, 18)),
        (at(2025, 12, 31, 10), 9, at(2026, 1, 13, 10)),
        # Shortened Friday 2025-03-07 ends at 17:00; Monday 10th works (Mar 8 moved to Jun 13).
        (at(2025, 3, 7, 15), 3, at(2025, 3, 10, 10)),
        (at(2025, 3, 7, 9), 7, at(2025, 3, 7, 17)),
        # Working Saturday 2025-11-01 (shortened), then Nov 2–4 off.
        (at(2025, 10, 31, 16), 4, at(2025, 11, 1, 11)),
        (at(2025, 11, 1, 15), 3, at(2025, 11, 5, 10)),
        # Night and lunch receipts start counting at the next working moment.
        (at(2025, 12, 29, 2), 1, at(2025, 12, 29, 10)),
        (at(2025, 12, 29, 13, 20), 1, at(2025, 12, 29, 15)),
        (at(2025, 12, 27, 11), 2, at(2025, 12, 29, 11)),
        # Exactly at 13:00 / 18:00 the deadline is that instant.
        (at(2025, 12, 29, 9), 4, at(2025, 12, 29, 13)),
        (at(2025, 12, 29, 12), 1, at(2025, 12, 29, 13)),
        (at(2025, 12, 29, 9), 8, at(2025, 12, 29, 18)),
        (at(2025, 12, 29, 17), 1, at(2025, 12, 29, 18)),
        (at(2025, 12, 29, 17), 1.5, at(2025, 12, 30, 9, 30)),
        # Receipt at 18:00 counts from the next morning.
        (at(2025, 12, 29, 18), 0.5, at(2025, 12, 30, 9, 30)),
    ],
)
def test_add_working_hours_examples(start: datetime, hours: float, expected: datetime) -> None:
    assert CAL.add_working_hours(start, hours) == expected


def test_add_working_hours_converts_other_zones_and_returns_calendar_zone() -> None:
    received = datetime(2025, 12, 28, 16, 0, tzinfo=UTC)  # 2025-12-29 02:00 in Vladivostok
    result = CAL.add_working_hours(received, 1)
    assert result == at(2025, 12, 29, 10)
    assert result.tzinfo == VLAD
    assert result.utcoffset() == timedelta(hours=10)


@pytest.mark.parametrize(
    ("received", "n", "expected"),
    [
        # Apr 30 (shortened) is the receipt day and never counts; May 1–4 off.
        (at(2025, 4, 30, 10), 1, at(2025, 5, 5, 18)),
        (at(2025, 4, 30, 10), 3, at(2025, 5, 7, 18)),
        # May 8–11 off as well.
        (at(2025, 4, 30, 10), 4, at(2025, 5, 12, 18)),
        (at(2025, 5, 3, 12), 1, at(2025, 5, 5, 18)),
        (at(2025, 5, 5, 8), 1, at(2025, 5, 6, 18)),
        # Ends on a shortened day: 17:00.
        (at(2025, 6, 10, 12), 1, at(2025, 6, 11, 17)),
        # Across the New Year: Dec 31 and Jan 1–11 off.
        (at(2025, 12, 30, 23, 59), 1, at(2026, 1, 12, 18)),
    ],
)
def test_end_of_working_days_examples(received: datetime, n: int, expected: datetime) -> None:
    assert CAL.end_of_working_days(received, n) == expected


@pytest.mark.parametrize(
    ("received", "n", "expected"),
    [
        # Lands on Fri 2025-05-02 (moved day off) -> Monday May 5.
        (at(2025, 4, 2, 15), 30, at(2025, 5, 5, 18)),
        # Lands on Dec 31 -> first working day after the New Year holidays.
        (at(2025, 12, 1, 9), 30, at(2026, 1, 12, 18)),
        # Lands on a shortened day.
        (at(2026, 4, 20, 9), 10, at(2026, 4, 30, 17)),
        (at(2025, 12, 26, 17, 30), 3, at(2025, 12, 29, 18)),
        (at(2025, 12, 29, 10), 0, at(2025, 12, 29, 18)),
        # The local date counts: 20:00 UTC on the 25th is the 26th in Vladivostok.
        (datetime(2025, 12, 25, 20, tzinfo=UTC), 3, at(2025, 12, 29, 18)),
    ],
)
def test_calendar_days_deadline_examples(received: datetime, n: int, expected: datetime) -> None:
    assert CAL.calendar_days_deadline(received, n) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (at(2025, 12, 26, 17, 30), at(2025, 12, 29, 12, 30), 4 * HOUR),
        (at(2025, 12, 29, 12, 30), at(2025, 12, 26, 17, 30), -4 * HOUR),
        (at(2025, 12, 30, 9), at(2026, 1, 13, 9), 16 * HOUR),
        (at(2025, 12, 29, 13), at(2025, 12, 29, 14), timedelta(0)),
        (at(2025, 12, 29, 12, 30), at(2025, 12, 29, 14, 30), HOUR),
        (at(2025, 3, 7, 16), at(2025, 3, 7, 18), HOUR),
    ],
)
def test_working_time_between_examples(a: datetime, b: datetime, expected: timedelta) -> None:
    assert CAL.working_time_between(a, b) == expected


def test_naive_datetimes_and_bad_arguments_are_rejected() -> None:
    naive = datetime(2025, 12, 29, 10)
    calls: list[Callable[[], object]] = [
        lambda: CAL.add_working_hours(naive, 1),
        lambda: CAL.end_of_working_days(naive, 1),
        lambda: CAL.calendar_days_deadline(naive, 1),
        lambda: CAL.working_time_between(naive, at(2025, 12, 30)),
        lambda: CAL.working_time_between(at(2025, 12, 30), naive),
        lambda: CAL.add_working_hours(at(2025, 12, 29), -1),
        lambda: CAL.add_working_hours(at(2025, 12, 29), float("nan")),
        lambda: CAL.end_of_working_days(at(2025, 12, 29), 0),
        lambda: CAL.calendar_days_deadline(at(2025, 12, 29), -1),
    ]
    for call in calls:
        with pytest.raises(ValueError):
            call()
    with pytest.raises(TypeError):
        CAL.is_working_day(naive)


# --- properties --------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2024, 11, 1), max_value=datetime(2028, 2, 1), timezones=st.just(VLAD)
)
hour_counts = st.floats(min_value=0, max_value=300, allow_nan=False, allow_infinity=False)
day_counts = st.integers(min_value=0, max_value=120)
dates = st.dates(min_value=date(2024, 11, 1), max_value=date(2028, 2, 1))
PROPS = settings(deadline=None, max_examples=150)


@PROPS
@given(moments, hour_counts)
def test_deadline_lies_inside_or_at_the_end_of_a_working_interval(
    start: datetime, hours: float
) -> None:
    result = CAL.add_working_hours(start, hours)
    assert result.tzinfo == VLAD
    assert result >= start
    intervals = CAL.working_intervals(result.date())
    assert any(begin <= result <= end for begin, end in intervals)


@PROPS
@given(moments, hour_counts)
def test_working_time_to_the_deadline_equals_the_hours(start: datetime, hours: float) -> None:
    result = CAL.add_working_hours(start, hours)
    spent = CAL.working_time_between(start, result)
    assert abs(spent - timedelta(hours=hours)) < timedelta(seconds=1)
    assert CAL.working_time_between(result, start) == -spent


@PROPS
@given(moments, hour_counts, hour_counts)
def test_add_working_hours_is_monotonic(start: datetime, h1: float, h2: float) -> None:
    low, high = sorted((h1, h2))
    assert CAL.add_working_hours(start, low) <= CAL.add_working_hours(start, high)


@PROPS
@given(moments, st.integers(min_value=1, max_value=60))
def test_end_of_working_days_grows_and_never_counts_the_receipt_day(
    received: datetime, n: int
) -> None:
    nth = CAL.end_of_working_days(received, n)
    assert CAL.end_of_working_days(received, n + 1) > nth
    assert nth.date() > received.date()
    assert CAL.is_working_day(nth.date())
    assert nth.time() in (time(18), time(17))
    assert nth == CAL.working_intervals(nth.date())[-1][1]


@PROPS
@given(moments, day_counts)
def test_calendar_days_deadline_is_never_early(received: datetime, n: int) -> None:
    result = CAL.calendar_days_deadline(received, n)
    target = datetime.combine(received.date() + timedelta(days=n), time(0), tzinfo=VLAD)
    assert result >= target
    assert CAL.is_working_day(result.date())
    gap = (result.date() - target.date()).days
    skipped = [target.date() + timedelta(days=i) for i in range(gap)]
    assert not any(CAL.is_working_day(d) for d in skipped)


@PROPS
@given(dates)
def test_is_working_day_agrees_with_working_intervals(d: date) -> None:
    intervals = CAL.working_intervals(d)
    assert bool(intervals) == CAL.is_working_day(d)
    if intervals:
        (morning_start, morning_end), (afternoon_start, afternoon_end) = intervals
        assert morning_start.time() == time(9) and morning_end.time() == time(13)
        assert afternoon_start.time() == time(14)
        assert afternoon_end.time() == (time(17) if CAL.is_shortened(d) else time(18))
        assert all(begin.date() == d == end.date() for begin, end in intervals)
    else:
        assert not CAL.is_shortened(d)


# --- validation --------------------------------------------------------------------------

VALID: dict[str, Any] = {
    "work_hours": {
        "start": "09:00",
        "end": "18:00",
        "lunch_start": "13:00",
        "lunch_end": "14:00",
        "shortened_by_minutes": 60,
    },
    "years": {
        2025: {
            "holidays": ["2025-01-01", "2025-01-02", "2025-01-03"],
            "working_weekends": [date(2025, 11, 1)],
            "shortened": ["2025-03-07"],
        }
    },
}


def test_the_valid_sample_is_accepted() -> None:
    cal = WorkCalendar.from_mapping(VALID, tz="Asia/Vladivostok")
    assert cal.years_covered == (2025,)
    assert cal.is_working_day(date(2025, 11, 1))
    assert not cal.is_working_day(date(2025, 1, 3))


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key) if key.isdigit() else key]
        node[int(last) if last.isdigit() else last] = value

    return mutate


def _drop(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key) if key.isdigit() else key]
        del node[last]

    return mutate


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            _set("years.2025.holidays", ["2025-01-01", "2025-01-02", "2025-01-03", "2025-13-01"]),
            r"^years\.2025\.holidays\[3\]: '2025-13-01' is not a date YYYY-MM-DD$",
        ),
        (_set("years.2025.shortened", ["7 March"]), r"^years\.2025\.shortened\[0\]: '7 March'"),
        (_set("yeers", {}), r"^yeers: unknown key"),
        (_set("work_hours.lunch", "13:00"), r"^work_hours\.lunch: unknown key"),
        (_set("years.2025.holiday", []), r"^years\.2025\.holiday: unknown key"),
        (_drop("years.2025.shortened"), r"^years\.2025\.shortened: missing key"),
        (_set("work_hours.start", "19:00"), r"^work_hours\.start must be before work_hours\.end$"),
        (_set("work_hours.lunch_end", "12:00"), r"work_hours\.lunch_start must be before"),
        (_set("work_hours.end", "09:00"), r"^work_hours\.start must be before work_hours\.end$"),
        (
            _set("work_hours.lunch_end", "13:00"),
            r"lunch_start must be before work_hours\.lunch_end",
        ),
        (_set("work_hours.start", 540), r"^work_hours\.start: 540 is not a time HH:MM"),
        (_set("work_hours.shortened_by_minutes", 240), r"^work_hours\.shortened_by_minutes: 240"),
        (_set("years.2025.holidays", ["2025-01-04"]), r"^years\.2025\.holidays\[0\]: 2025-01-04"),
        (_set("years.2025.holidays", ["2026-01-01"]), r"\[0\]: 2026-01-01 is not in 2025$"),
        (_set("years.2025.working_weekends", ["2025-11-03"]), r"working_weekends\[0\]: 2025-11-03"),
        (_set("years.2025.shortened", ["2025-01-01"]), r"^years\.2025\.shortened\[0\]: .*day off"),
        (_set("years.2025.holidays", ["2025-01-01", "2025-01-01"]), r"holidays\[1\]: .*twice"),
        (_set("years.2025.holidays", "2025-01-01"), r"^years\.2025\.holidays must be a list"),
        (_set("years.soon", VALID["years"][2025]), r"^years\.soon: 'soon' is not a four-digit"),
        (_set("years", []), r"^years must be a mapping"),
    ],
)
def test_invalid_config_raises_with_the_key_path(
    mutate: Callable[[dict[str, Any]], None], message: str
) -> None:
    data = copy.deepcopy(VALID)
    mutate(data)
    with pytest.raises(ValueError, match=message):
        WorkCalendar.from_mapping(data, tz="Asia/Vladivostok")


def test_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"^tz: 'Mars/Olympus'"):
        WorkCalendar.from_mapping(VALID, tz="Mars/Olympus")
