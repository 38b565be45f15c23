"""Weekly rating: compute from the database, store and publish snapshots, 12-week trend.

Only published snapshots are final. Drafts are stored by ``get_or_compute_snapshot`` for
review; ``trend`` reads published weeks and computes the others on the fly without storing.
Finished weeks computed on the fly may be kept in a ``WeekCache`` (the web page does), so a
page view does not rescan twelve weeks of incidents when nobody published them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from core.calendar import WorkCalendar
from core.errors import ConflictError
from rating import repository as repo
from rating import speed
from rating.scoring import (
    Counts,
    RatingConfig,
    RatingResult,
    UnitInput,
    apply_previous_ranks,
    score_units,
)
from rating.serialize import from_payload, to_payload
from rating.trend import TREND_WEEKS, Trend, TrendLine, WeekCache, build_trend
from rating.weeks import shift_week, week_bounds

__all__ = [
    "DEPARTMENT_SCOPE",
    "Trend",
    "TrendLine",
    "WeekCache",
    "compute_week",
    "get_or_compute_snapshot",
    "publish_snapshot",
    "trend",
]

DEPARTMENT_SCOPE = "department"
_HOUR = 3600.0


def _cells(
    session: Session, *, start: datetime, as_of: datetime, calendar: WorkCalendar
) -> tuple[dict[repo.CellKey, Counts], dict[repo.CellKey, list[float]]]:
    """Tallies and first-answer working hours (pauses left out) per department × block cell."""
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
    rows = repo.speed_rows(session, start=start, as_of=as_of)
    changes = repo.pause_changes(session, incident_ids={r.incident_id for r in rows}, as_of=as_of)
    for row in rows:
        key = (row.department_id, row.block_code)
        cells[key] += Counts(judged=1, on_time=int(row.on_time))
        # Unanswered by as_of: the time so far is a lower bound of the answer time.
        answered = as_of if row.first_genuine_at is None else min(row.first_genuine_at, as_of)
        spent = speed.answer_time(
            received=row.received_at,
            answered=answered,
            pauses=speed.pauses_of(changes.get(row.incident_id, ())),
            calendar=calendar,
        )
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


def _finished_week(
    session: Session,
    *,
    week: str,
    calendar: WorkCalendar,
    config: RatingConfig,
    now: datetime,
    cache: WeekCache | None,
) -> RatingResult:
    """``_compute`` through ``cache`` when the week is over (a running week is never kept)."""
    _, end = week_bounds(week, calendar.tz)
    if cache is None or now < end:
        return _compute(session, week=week, calendar=calendar, config=config, now=now)
    key = (week, str(calendar.tz), config)
    found = cache.get(key, now=now)
    if found is None:
        found = _compute(session, week=week, calendar=calendar, config=config, now=now)
        cache.put(key, found, now=now)
    return found


def _previous_ranks(
    session: Session,
    *,
    week: str,
    calendar: WorkCalendar,
    config: RatingConfig,
    now: datetime,
    cache: WeekCache | None,
) -> dict[str, int | None]:
    """Ranks of ``week``: from its published snapshot, else computed on the fly."""
    stored = repo.published_snapshots(session, weeks=[week], scope=DEPARTMENT_SCOPE).get(week)
    if stored is not None:
        result = from_payload(stored.payload)
    else:
        result = _finished_week(
            session, week=week, calendar=calendar, config=config, now=now, cache=cache
        )
    return {unit.key: unit.rank for unit in result.units}


def compute_week(
    session: Session,
    *,
    week: str,
    calendar: WorkCalendar,
    weights: RatingConfig,
    now: datetime,
    cache: WeekCache | None = None,
) -> RatingResult:
    """The department rating of ISO ``week`` as of ``now``, with rank changes; stores nothing.

    ``week`` itself is always computed afresh; ``cache`` may serve the previous week.
    """
    result = _compute(session, week=week, calendar=calendar, config=weights, now=now)
    previous = _previous_ranks(
        session, week=shift_week(week, -1), calendar=calendar, config=weights, now=now, cache=cache
    )
    return replace(result, units=tuple(apply_previous_ranks(units=result.units, previous=previous)))


def get_or_compute_snapshot(
    session: Session,
    *,
    week: str,
    calendar: WorkCalendar,
    weights: RatingConfig,
    now: datetime,
    cache: WeekCache | None = None,
) -> RatingResult:
    """The published snapshot of ``week`` as stored; otherwise compute and store a draft."""
    stored = repo.get_snapshot(session, week=week, scope=DEPARTMENT_SCOPE)
    if stored is not None and stored.published_at is not None:
        return from_payload(stored.payload)
    result = compute_week(
        session, week=week, calendar=calendar, weights=weights, now=now, cache=cache
    )
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
    weeks: int = TREND_WEEKS,
    known: Mapping[str, RatingResult] | None = None,
    cache: WeekCache | None = None,
) -> Trend:
    """Index per department over ``weeks`` weeks ending with ``week``.

    Per week, the first that applies: its published snapshot; a result the caller already
    has (``known``, e.g. the week the page shows); nothing when no incident had arrived by
    the week's end (every department would lack data, so the scan is skipped); a
    computation on the fly, through ``cache`` for finished weeks. Nothing is stored.
    """
    labels = [shift_week(week, offset) for offset in range(1 - weeks, 1)]
    labels = [w for w in labels if week_bounds(w, calendar.tz)[0] <= now]
    stored = repo.published_snapshots(session, weeks=labels, scope=DEPARTMENT_SCOPE)
    first = repo.first_received_at(session)
    results: list[RatingResult | None] = []
    for label in labels:
        if label in stored:
            results.append(from_payload(stored[label].payload))
        elif known and label in known:
            results.append(known[label])
        elif first is None or week_bounds(label, calendar.tz)[1] <= first:
            results.append(None)
        else:
            results.append(
                _finished_week(
                    session, week=label, calendar=calendar, config=weights, now=now, cache=cache
                )
            )
    return build_trend(weeks=labels, results=results, published=[w in stored for w in labels])
