"""ISO weeks in the municipality's time zone: "2026-W47" ↔ [Monday 00:00, next Monday 00:00)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from core.errors import AppError

__all__ = ["InvalidWeekError", "shift_week", "week_bounds", "week_of", "week_start_date"]

_WEEK_RE = re.compile(r"(\d{4})-W(\d{2})")


class InvalidWeekError(AppError):
    """A week label is not a real ISO week such as 2026-W47."""


def _zone(tz: str | tzinfo) -> tzinfo:
    """A tzinfo from a zone name or a ready tzinfo."""
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def week_start_date(week: str) -> date:
    """The Monday of ISO week ``week`` ("YYYY-Www"); InvalidWeekError if there is none."""
    match = _WEEK_RE.fullmatch(week.strip()) if isinstance(week, str) else None
    if match is None:
        raise InvalidWeekError(f"неделя должна быть в виде ГГГГ-Wнн, например 2026-W47: {week!r}")
    year, number = int(match.group(1)), int(match.group(2))
    try:
        return date.fromisocalendar(year, number, 1)
    except ValueError as exc:
        raise InvalidWeekError(f"в {year} году нет недели {number:02d} по ISO 8601") from exc


def week_bounds(week: str, tz: str | tzinfo) -> tuple[datetime, datetime]:
    """UTC instants of local Monday 00:00 of ``week`` and of the next Monday 00:00."""
    zone = _zone(tz)
    monday = week_start_date(week)
    start = datetime.combine(monday, time(0), tzinfo=zone)
    end = datetime.combine(monday + timedelta(days=7), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def week_of(moment: datetime, tz: str | tzinfo) -> str:
    """The ISO week label of the local date of an aware ``moment``."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    year, number, _ = moment.astimezone(_zone(tz)).date().isocalendar()
    return f"{year}-W{number:02d}"


def shift_week(week: str, weeks: int) -> str:
    """The label of the week ``weeks`` weeks after ``week`` (negative: before)."""
    year, number, _ = (week_start_date(week) + timedelta(weeks=weeks)).isocalendar()
    return f"{year}-W{number:02d}"
