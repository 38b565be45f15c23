"""The 12-week trend as plain data: lines per department, gaps, and a cache of computed weeks.

Pure: no database. ``rating.service.trend`` gathers the weekly results; the web page, the
XLSX and the PDF draw what ``build_trend`` returns.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rating.scoring import RatingResult

__all__ = [
    "TREND_WEEKS",
    "Trend",
    "TrendLine",
    "WeekCache",
    "build_trend",
    "ordered_lines",
    "runs",
]

TREND_WEEKS = 12


@dataclass(frozen=True, slots=True)
class TrendLine:
    """One department's index (None: no place that week) over the trend weeks."""

    code: str
    department: str
    index: tuple[float | None, ...]
    rank: tuple[int | None, ...]

    @property
    def has_values(self) -> bool:
        """Whether the department had a place in at least one week of the trend."""
        return any(value is not None for value in self.index)


@dataclass(frozen=True, slots=True)
class Trend:
    """Index per week per department; ``published`` tells stored weeks from computed ones."""

    weeks: tuple[str, ...]
    published: tuple[bool, ...]
    lines: tuple[TrendLine, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data for the web page and the CLI."""
        return {
            "weeks": list(self.weeks),
            "published": list(self.published),
            "departments": [
                {
                    "code": line.code,
                    "department": line.department,
                    "index": [None if v is None else round(v, 1) for v in line.index],
                    "rank": list(line.rank),
                }
                for line in self.lines
            ],
        }


def build_trend(
    *, weeks: Sequence[str], results: Sequence[RatingResult | None], published: Sequence[bool]
) -> Trend:
    """Lines per department over the weeks (oldest first), sorted by department name.

    A department absent from a week (or the whole week None: no data at all), or present
    without a place («недостаточно данных»), gets None there: a gap in a chart, never a
    zero. The latest name of a code wins.
    """
    if not len(weeks) == len(results) == len(published):
        raise ValueError("need one result and one published flag per week")
    names: dict[str, str] = {}
    for result in results:
        if result is not None:
            names.update((unit.key, unit.name) for unit in result.units)
    by_week = [{} if r is None else {unit.key: unit for unit in r.units} for r in results]
    lines = tuple(
        TrendLine(
            code=code,
            department=name,
            index=tuple(units[code].index if code in units else None for units in by_week),
            rank=tuple(units[code].rank if code in units else None for units in by_week),
        )
        for code, name in sorted(names.items(), key=lambda item: (item[1], item[0]))
    )
    return Trend(weeks=tuple(weeks), published=tuple(published), lines=lines)


def ordered_lines(trend: Trend, *, order: Sequence[str] = ()) -> list[TrendLine]:
    """The lines with the codes of ``order`` first in that order (e.g. the week's ranking),
    then the rest by name."""
    position = {code: i for i, code in enumerate(order)}
    return sorted(
        trend.lines, key=lambda line: (position.get(line.code, len(position)), line.department)
    )


def runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """Maximal runs of consecutive known values as (position, value) pairs; None splits."""
    found: list[list[tuple[int, float]]] = []
    current: list[tuple[int, float]] = []
    for position, value in enumerate(values):
        if value is None:
            if current:
                found.append(current)
            current = []
        else:
            current.append((position, value))
    if current:
        found.append(current)
    return found


class WeekCache:
    """Finished but unpublished weeks computed on the fly, kept ``ttl`` per process.

    A published week is read from its snapshot instead, so only weeks nobody published are
    held here, and only for ``ttl``: a late correction of such a week shows after that.
    Thread-safe (the web serves requests from a thread pool); ``now`` is passed in.
    """

    def __init__(self, *, ttl: timedelta, max_entries: int = 64) -> None:
        if ttl <= timedelta(0) or max_entries < 1:
            raise ValueError("ttl must be positive and max_entries at least 1")
        self._ttl = ttl
        self._max = max_entries
        self._items: dict[Hashable, tuple[datetime, RatingResult]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, *, now: datetime) -> RatingResult | None:
        """The stored result if it is younger than ``ttl``; expired entries are dropped."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if now - item[0] >= self._ttl:
                del self._items[key]
                return None
            return item[1]

    def put(self, key: Hashable, result: RatingResult, *, now: datetime) -> None:
        """Store ``result``; the oldest entry goes when the cache is full."""
        with self._lock:
            self._items.pop(key, None)
            while len(self._items) >= self._max:
                oldest = min(self._items, key=lambda k: self._items[k][0])
                del self._items[oldest]
            self._items[key] = (now, result)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
