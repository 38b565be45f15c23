"""Weekly rating: compute from the database, store and publish snapshots, 12-week trend.

Only published snapshots are final. Drafts are stored by ``get_or_compute_snapshot`` for
review; ``trend`` reads published weeks and computes the others on the fly without storing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.calendar import WorkCalendar
from core.errors import ConflictError
from rating import repository as repo
from rating.scoring import (
    Counts,
    RatingConfig,
    RatingResult,
    UnitInput,
    apply_previous_ranks,
    score_units,
)
from rating.serialize import from_payload, to_payload
from rating.weeks import shift_week, week_bounds

__all__ = [
    "DEPARTMENT_SCOPE",
    "Trend",
    "TrendLine",
    "compute_week",
    "get_or_compute_snapshot",
    "publish_snapshot",
    "trend",
]

DEPARTMENT_SCOPE = "department"
_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class TrendLine:
    """One department's index (None: no place that week) over the trend weeks."""

    code: str
    department: str
    index: tuple[float | None, ...]
    rank: tuple[int | None, ...]


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


def _cells(
    session: Session, *, start: datetime, as_of: datetime, calendar: WorkCalendar
) -> tuple[dict[repo.CellKey, Counts], dict[repo.CellKey, list[float]]]:
    """Tallies and first-answer working hours per department × block cell."""
    cells: dict[repo.CellKey, Counts] = defaultdict(Counts)
    for key, counts in repo.flow_counts(session, start=start, as_of=as_of).items():
        cells[key] += counts
    for key, merits in repo.merits_counts(session, start=start, as_of=as_of).items():
        cells[key] += Counts(merits=merits)
    for key, (answers, formal) in repo.answer_counts(session, start=start, as_of=as_of).items():
        cells[key] += Counts(answers=answers, formal_answers=formal)
    for key, verdicts in repo.verdict_counts(session, start=start, as_of=as_of).items():
        cells[key] += Counts(**verdicts)
    hours: dict[repo.CellKey, list[float]] = defaultdict(list)
    for row in repo.speed_rows(session, start=start, as_of=as_of):
        key = (row.department_id, row.block_code)
        cells[key] += Counts(judged=1, on_time=int(row.on_time))
        # Unanswered by as_of: the time so far is a lower bound of the answer time.
        answered = as_of if row.first_genuine_at is None else min(row.first_genuine_at, as_of)
        spent = calendar.working_time_between(row.received_at, answered)
        hours[key].append(spent.total_seconds() / _HOUR)
    return dict(cells), dict(hours)


def _inputs(
    *,
    names: Iterable[tuple[Any, str, str, bool]],
    cells: Mapping[repo.CellKey, Counts],
    hours: Mapping[repo.CellKey, list[float]],
    part: int,
) -> list[UnitInput]:
    """Roll cells up by department (part=0) or block (part=1) into scorer inputs."""
    totals: dict[Any, Counts] = defaultdict(Counts)
    times: dict[Any, list[float]] = defaultdict(list)
    for key, counts in cells.items():
        totals[key[part]] += counts
        times[key[part]].extend(hours.get(key, ()))
    return [
        UnitInput(key=code, name=name, counts=totals[ident], answer_hours=tuple(times[ident]))
        for ident, code, name, active in names
        if active or ident in totals
    ]


def _compute(
    session: Session, *, week: str, calendar: WorkCalendar, config: RatingConfig, now: datetime
) -> RatingResult:
    """The rating of ``week`` as of min(now, end of week), without movers."""
    start, end = week_bounds(week, calendar.tz)
    if now < start:
        raise ConflictError(f"неделя {week} ещё не началась")
    as_of = min(now, end)
    cells, hours = _cells(session, start=start, as_of=as_of, calendar=calendar)
    departments = repo.departments(session)
    block_names = [(code, code, name, active) for code, name, active in repo.blocks(session)]
    units = score_units(
        units=_inputs(names=departments, cells=cells, hours=hours, part=0), config=config
    )
    blocks = score_units(
        units=_inputs(names=block_names, cells=cells, hours=hours, part=1), config=config
    )
    return RatingResult(
        week=week,
        timezone=str(calendar.tz),
        start=start,
        end=end,
        as_of=as_of,
        computed_at=now,
        config=config,
        units=tuple(units),
        blocks=tuple(blocks),
    )


def _previous_ranks(
    session: Session, *, week: str, calendar: WorkCalendar, config: RatingConfig, now: datetime
) -> dict[str, int | None]:
    """Ranks of ``week``: from its published snapshot, else computed on the fly."""
    stored = repo.published_snapshots(session, weeks=[week], scope=DEPARTMENT_SCOPE).get(week)
    if stored is not None:
        result = from_payload(stored.payload)
    else:
        result = _compute(session, week=week, calendar=calendar, config=config, now=now)
    return {unit.key: unit.rank for unit in result.units}


def compute_week(
    session: Session, *, week: str, calendar: WorkCalendar, weights: RatingConfig, now: datetime
) -> RatingResult:
    """The department rating of ISO ``week`` as of ``now``, with rank changes; stores nothing."""
    result = _compute(session, week=week, calendar=calendar, config=weights, now=now)
    previous = _previous_ranks(
        session, week=shift_week(week, -1), calendar=calendar, config=weights, now=now
    )
    return replace(result, units=tuple(apply_previous_ranks(units=result.units, previous=previous)))


def get_or_compute_snapshot(
    session: Session, *, week: str, calendar: WorkCalendar, weights: RatingConfig, now: datetime
) -> RatingResult:
    """The published snapshot of ``week`` as stored; otherwise compute and store a draft."""
    stored = repo.get_snapshot(session, week=week, scope=DEPARTMENT_SCOPE)
    if stored is not None and stored.published_at is not None:
        return from_payload(stored.payload)
    result = compute_week(session, week=week, calendar=calendar, weights=weights, now=now)
    saved = repo.save_snapshot(
        session,
        week=week,
        scope=DEPARTMENT_SCOPE,
        payload=to_payload(result),
        computed_at=now,
        published_at=None,
    )
    return from_payload(saved.payload) if saved.published_at is not None else result


def publish_snapshot(
    session: Session, *, week: str, calendar: WorkCalendar, weights: RatingConfig, now: datetime
) -> RatingResult:
    """Compute and freeze a finished week; an already published week is returned unchanged."""
    stored = repo.get_snapshot(session, week=week, scope=DEPARTMENT_SCOPE)
    if stored is not None and stored.published_at is not None:
        return from_payload(stored.payload)
    _, end = week_bounds(week, calendar.tz)
    if now < end:
        raise ConflictError(f"неделя {week} ещё не закончилась: публиковать рано")
    result = compute_week(session, week=week, calendar=calendar, weights=weights, now=now)
    saved = repo.save_snapshot(
        session,
        week=week,
        scope=DEPARTMENT_SCOPE,
        payload=to_payload(replace(result, published_at=now)),
        computed_at=now,
        published_at=now,
    )
    return from_payload(saved.payload)


def trend(
    session: Session,
    *,
    week: str,
    calendar: WorkCalendar,
    weights: RatingConfig,
    now: datetime,
    weeks: int = 12,
) -> Trend:
    """Index per department over ``weeks`` weeks ending with ``week`` (published or computed)."""
    labels = [shift_week(week, offset) for offset in range(1 - weeks, 1)]
    labels = [w for w in labels if week_bounds(w, calendar.tz)[0] <= now]
    stored = repo.published_snapshots(session, weeks=labels, scope=DEPARTMENT_SCOPE)
    results = [
        from_payload(stored[w].payload)
        if w in stored
        else _compute(session, week=w, calendar=calendar, config=weights, now=now)
        for w in labels
    ]
    names: dict[str, str] = {}
    for result in results:
        names.update((unit.key, unit.name) for unit in result.units)
    by_week = [{unit.key: unit for unit in result.units} for result in results]
    lines = tuple(
        TrendLine(
            code=code,
            department=name,
            index=tuple(units[code].index if code in units else None for units in by_week),
            rank=tuple(units[code].rank if code in units else None for units in by_week),
        )
        for code, name in sorted(names.items(), key=lambda item: item[1])
    )
    return Trend(weeks=tuple(labels), published=tuple(w in stored for w in labels), lines=lines)
