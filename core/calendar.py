"""Production calendar (пятидневка) and working-time arithmetic for response deadlines.

Counting rules (product spec):

* Working time is Mon–Fri 09:00–18:00 minus lunch 13:00–14:00 (the hours come from
  ``config/calendar.yaml``); a pre-holiday ("shortened") working day ends
  ``shortened_by_minutes`` earlier, i.e. at 17:00; public holidays, days off moved onto
  weekdays and working weekends follow the calendar.
* ``add_working_hours(start, h)`` is the instant when ``h`` hours of working time have
  passed since ``start``; a start outside working time begins counting at the next working
  moment. Hours used up exactly at the end of an interval (13:00, 18:00) give that instant,
  not the next working moment.
* ``end_of_working_days(received, n)`` is the end (18:00, or 17:00 if shortened) of the
  n-th working day after the day of receipt; the day of receipt itself never counts,
  whether it is a working day or not.
* ``calendar_days_deadline(received, n)`` is the end of the working day on the local date
  of receipt + n days, or of the next working day if that date is not a working day.
* ``working_time_between(a, b)`` is the working time inside [a, b); negative if b < a.
* ``shift_by_working_time(t, amount)`` is ``t`` moved on by ``amount`` of working time (a
  zero amount leaves ``t`` as it is); ``end_of_working_day(t)`` is the end of the working
  day of ``t`` (or of the next working day). Both serve the pause of an incident's deadlines.

Years absent from the config fall back to Mon–Fri with the fixed federal holidays of
Labour Code art. 112 (Jan 1–8, Feb 23, Mar 8, May 1, May 9, Jun 12, Nov 4) off; there are
no transfers and no shortened days in such years.

Every datetime argument must be timezone-aware; results are aware datetimes in the
calendar's time zone. Dates (``is_working_day`` etc.) are local dates of that zone.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["FEDERAL_HOLIDAYS", "Interval", "WorkCalendar", "WorkHours", "YearDays"]

Interval = tuple[datetime, datetime]

FEDERAL_HOLIDAYS: frozenset[tuple[int, int]] = frozenset(
    [(1, day) for day in range(1, 9)] + [(2, 23), (3, 8), (5, 1), (5, 9), (6, 12), (11, 4)]
)

_TOP_KEYS = ("work_hours", "years")
_HOURS_KEYS = ("start", "end", "lunch_start", "lunch_end", "shortened_by_minutes")
_YEAR_KEYS = ("holidays", "working_weekends", "shortened")
_ORDER = (
    ("start", "end"),
    ("start", "lunch_start"),
    ("lunch_start", "lunch_end"),
    ("lunch_end", "end"),
)
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME_RE = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_ONE_DAY = timedelta(days=1)
_ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class WorkHours:
    """Daily working hours and the pre-holiday cut."""

    start: time
    lunch_start: time
    lunch_end: time
    end: time
    shortened_by: timedelta


@dataclass(frozen=True, slots=True)
class YearDays:
    """Exceptions to the Mon–Fri week for one calendar year."""

    holidays: frozenset[date]
    working_weekends: frozenset[date]
    shortened: frozenset[date]


@dataclass(frozen=True, slots=True, eq=False)
class WorkCalendar:
    """Immutable production calendar with working-time arithmetic in one time zone."""

    tz: ZoneInfo
    hours: WorkHours
    years: Mapping[int, YearDays]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, tz: str) -> WorkCalendar:
        """Build from the parsed calendar YAML; ValueError names the offending key."""
        if not isinstance(data, Mapping):
            raise ValueError(f"calendar must be a mapping, got {type(data).__name__}")
        _check_keys(data, _TOP_KEYS, "")
        hours = _parse_hours(data["work_hours"])
        raw_years = data["years"]
        if not isinstance(raw_years, Mapping):
            raise ValueError("years must be a mapping of year -> days")
        years: dict[int, YearDays] = {}
        for key, entry in raw_years.items():
            year = _parse_year_key(key)
            if year in years:
                raise ValueError(f"years.{key}: year {year} is listed twice")
            years[year] = _parse_year(entry, year, f"years.{key}")
        return cls(_zone(tz), hours, MappingProxyType(years))

    @property
    def years_covered(self) -> tuple[int, ...]:
        """Years taken from the config, ascending."""
        return tuple(sorted(self.years))

    def is_working_day(self, d: date) -> bool:
        """Whether local date ``d`` is a working day."""
        _check_date(d)
        days = self.years.get(d.year)
        if days is None:
            return d.weekday() < 5 and (d.month, d.day) not in FEDERAL_HOLIDAYS
        if d.weekday() >= 5:
            return d in days.working_weekends
        return d not in days.holidays

    def is_shortened(self, d: date) -> bool:
        """Whether ``d`` is a shortened pre-holiday working day."""
        _check_date(d)
        days = self.years.get(d.year)
        return days is not None and d in days.shortened

    def working_intervals(self, d: date) -> list[Interval]:
        """Working intervals of ``d`` in the calendar zone, e.g. [09:00–13:00, 14:00–18:00]."""
        if not self.is_working_day(d):
            return []
        h = self.hours
        end = self._at(d, h.end) - (h.shortened_by if self.is_shortened(d) else _ZERO)
        return [(self._at(d, h.start), self._at(d, h.lunch_start)), (self._at(d, h.lunch_end), end)]

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The instant when ``hours`` of working time have passed since ``start``."""
        if not math.isfinite(hours) or hours < 0:
            raise ValueError(f"hours must be a finite number >= 0, got {hours!r}")
        left = timedelta(hours=hours)
        moment = self._local(start, "start")
        day = moment.date()
        while True:
            for begin, end in self.working_intervals(day):
                if end <= moment:
                    continue
                available = end - max(begin, moment)
                # `<=` so that hours running out exactly at 13:00/18:00 stay on that instant.
                if left <= available:
                    return max(begin, moment) + left
                left -= available
            day += _ONE_DAY

    def end_of_working_days(self, received: datetime, n: int) -> datetime:
        """End of the n-th working day after the local day of receipt."""
        _check_count(n, minimum=1)
        day = self._local(received, "received").date()
        for _ in range(n):
            day = self._working_day_from(day + _ONE_DAY)
        return self._day_end(day)

    def calendar_days_deadline(self, received: datetime, n: int) -> datetime:
        """End of the working day on receipt date + n days, or of the next working day."""
        _check_count(n, minimum=0)
        day = self._local(received, "received").date() + timedelta(days=n)
        return self._day_end(self._working_day_from(day))

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time inside [a, b); negative when b is before a."""
        start, stop = self._local(a, "a"), self._local(b, "b")
        if stop < start:
            return -self.working_time_between(b, a)
        total = _ZERO
        day = start.date()
        while day <= stop.date():
            for begin, end in self.working_intervals(day):
                total += max(_ZERO, min(end, stop) - max(begin, start))
            day += _ONE_DAY
        return total

    def shift_by_working_time(self, moment: datetime, amount: timedelta) -> datetime:
        """``moment`` moved on by ``amount`` of working time; zero leaves it where it is.

        Unlike ``add_working_hours(moment, 0)``, which moves a moment outside working time to
        the next working moment, a zero shift is the identity: a pause that took no working
        time must not move a deadline at all.
        """
        if amount < _ZERO:
            raise ValueError(f"amount must be >= 0, got {amount!r}")
        local = self._local(moment, "moment")
        if amount == _ZERO:
            return local
        return self.add_working_hours(local, amount / timedelta(hours=1))

    def end_of_working_day(self, moment: datetime) -> datetime:
        """End of the working day ``moment`` falls on, or of the next one if it is past it."""
        local = self._local(moment, "moment")
        day = self._working_day_from(local.date())
        if local > self._day_end(day):
            day = self._working_day_from(day + _ONE_DAY)
        return self._day_end(day)

    def _working_day_from(self, day: date) -> date:
        """The first working day on or after ``day``."""
        while not self.is_working_day(day):
            day += _ONE_DAY
        return day

    def _day_end(self, day: date) -> datetime:
        """End of the last working interval of working day ``day``."""
        return self.working_intervals(day)[-1][1]

    def _at(self, d: date, t: time) -> datetime:
        """Local wall-clock instant ``t`` on ``d``."""
        return datetime.combine(d, t, tzinfo=self.tz)

    def _local(self, moment: datetime, name: str) -> datetime:
        """``moment`` converted to the calendar zone; naive datetimes are rejected."""
        if not isinstance(moment, datetime):
            raise TypeError(f"{name} must be a datetime, got {type(moment).__name__}")
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{name} must be a timezone-aware datetime, got naive {moment}")
        return moment.astimezone(self.tz)


def _check_date(d: date) -> None:
    """Reject datetimes: a datetime never equals a date, so set lookups would silently miss."""
    if isinstance(d, datetime) or not isinstance(d, date):
        raise TypeError(f"expected a date, got {type(d).__name__}")


def _check_count(n: int, *, minimum: int) -> None:
    """Require a whole number of days not below ``minimum``."""
    if isinstance(n, bool) or not isinstance(n, int) or n < minimum:
        raise ValueError(f"n must be a whole number >= {minimum}, got {n!r}")


def _zone(name: str) -> ZoneInfo:
    """ZoneInfo for ``name`` or a ValueError naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise ValueError(f"tz: {name!r} is not a known time zone") from exc


def _check_keys(raw: Mapping[Any, Any], expected: tuple[str, ...], path: str) -> None:
    """Every expected key present and no other key."""
    prefix = f"{path}." if path else ""
    for key in raw:
        if key not in expected:
            raise ValueError(f"{prefix}{key}: unknown key (expected {', '.join(expected)})")
    for key in expected:
        if key not in raw:
            raise ValueError(f"{prefix}{key}: missing key")


def _parse_time(value: Any, path: str) -> time:
    """A quoted "HH:MM" string as a time."""
    match = _TIME_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{path}: {value!r} is not a time HH:MM (quote it in YAML)")
    return time(int(match[1]), int(match[2]))


def _minutes(t: time) -> int:
    """Minutes since midnight."""
    return t.hour * 60 + t.minute


def _parse_hours(raw: Any) -> WorkHours:
    """Validate the work_hours section."""
    if not isinstance(raw, Mapping):
        raise ValueError("work_hours must be a mapping")
    _check_keys(raw, _HOURS_KEYS, "work_hours")
    t = {key: _parse_time(raw[key], f"work_hours.{key}") for key in _HOURS_KEYS[:4]}
    for first, second in _ORDER:
        if t[first] >= t[second]:
            raise ValueError(f"work_hours.{first} must be before work_hours.{second}")
    afternoon = _minutes(t["end"]) - _minutes(t["lunch_end"])
    cut = raw["shortened_by_minutes"]
    if isinstance(cut, bool) or not isinstance(cut, int) or not 0 <= cut < afternoon:
        raise ValueError(
            f"work_hours.shortened_by_minutes: {cut!r} must be a whole number "
            f"from 0 to {afternoon - 1} (shorter than the afternoon)"
        )
    return WorkHours(t["start"], t["lunch_start"], t["lunch_end"], t["end"], timedelta(minutes=cut))


def _parse_year_key(key: Any) -> int:
    """A year key: 2025 as YAML gives it, or the string "2025"."""
    if isinstance(key, str) and key.isdigit():
        key = int(key)
    if isinstance(key, bool) or not isinstance(key, int) or not 1000 <= key <= 9998:
        raise ValueError(f"years.{key}: {key!r} is not a four-digit year")
    return key


def _parse_date(value: Any, path: str) -> date:
    """A date as YAML gives it, or a "YYYY-MM-DD" string."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DATE_RE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{path}: {value!r} is not a date YYYY-MM-DD")


def _parse_dates(
    raw: Any, path: str, year: int, problem: Callable[[date], str | None]
) -> frozenset[date]:
    """A list of distinct dates of ``year``, each passing the ``problem`` check."""
    if not isinstance(raw, list | tuple):
        raise ValueError(f"{path} must be a list of dates, got {type(raw).__name__}")
    seen: set[date] = set()
    for index, item in enumerate(raw):
        where = f"{path}[{index}]"
        d = _parse_date(item, where)
        issue = f"is not in {year}" if d.year != year else problem(d)
        if issue is None and d in seen:
            issue = "is listed twice"
        if issue is not None:
            raise ValueError(f"{where}: {d} {issue}")
        seen.add(d)
    return frozenset(seen)


def _parse_year(raw: Any, year: int, path: str) -> YearDays:
    """Validate one years.<year> section."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path} must be a mapping with keys {', '.join(_YEAR_KEYS)}")
    _check_keys(raw, _YEAR_KEYS, path)
    holidays = _parse_dates(
        raw["holidays"],
        f"{path}.holidays",
        year,
        lambda d: None if d.weekday() < 5 else "falls on a weekend; list only Mon–Fri days off",
    )
    weekends = _parse_dates(
        raw["working_weekends"],
        f"{path}.working_weekends",
        year,
        lambda d: None if d.weekday() >= 5 else "is not a Saturday or Sunday",
    )
    shortened = _parse_dates(
        raw["shortened"],
        f"{path}.shortened",
        year,
        lambda d: (
            None if d in weekends or (d.weekday() < 5 and d not in holidays) else "is a day off"
        ),
    )
    return YearDays(holidays, weekends, shortened)
