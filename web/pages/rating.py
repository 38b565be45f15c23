"""`/rating`: the weekly department ranking with charts, movers, the 12-week trend and
XLSX/PDF downloads.

The trend reads published weeks from their snapshots. Finished weeks nobody published are
computed on the fly and kept per process for TREND_CACHE_TTL (``rating.trend.WeekCache``), so
a page view rescans only the week it shows; docs/rating.md §8 explains the choice.
"""

from __future__ import annotations

import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from rating import report, service
from rating.scoring import RatingResult
from rating.serialize import page_dict
from rating.trend import Trend, TrendLine, WeekCache, ordered_lines
from rating.weeks import InvalidWeekError, shift_week, week_of, week_start_date
from web.deps import Ctx, CurrentUser, DbSession, WebContext, require
from web.pages import charts
from web.pages.common import render

router = APIRouter(include_in_schema=False, dependencies=[require("rating")])

WEEKS_IN_SELECTOR = 12
CHART_WIDTH = 560.0
TREND_CACHE_TTL = timedelta(minutes=10)
# One small chart per department: its viewBox and the plot box inside it.
TREND_SIZE = (300.0, 150.0)
TREND_BOX = (30.0, 26.0, 262.0, 100.0)
TREND_NAME_CHARS = 42
_CACHE_LOCK = threading.Lock()
MEDIA = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def _valid_week(week: str, now: datetime, tz: str) -> str:
    """The week label if it is a real ISO week that has started; 404 otherwise."""
    try:
        week_start_date(week)
    except InvalidWeekError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from exc
    if week_start_date(week) > week_start_date(week_of(now, tz)):
        raise HTTPException(status_code=404, detail="Эта неделя ещё не началась")
    return week


def _week_cache(request: Request) -> WeekCache:
    """This application's cache of finished unpublished weeks (created on first use)."""
    state = request.app.state
    with _CACHE_LOCK:
        cache = getattr(state, "rating_week_cache", None)
        if cache is None:
            cache = WeekCache(ttl=TREND_CACHE_TTL)
            state.rating_week_cache = cache
    return cache


def _result(
    session: Any, ctx: WebContext, week: str, now: datetime, cache: WeekCache
) -> RatingResult:
    return service.get_or_compute_snapshot(
        session, week=week, calendar=ctx.calendar, weights=ctx.rating_config, now=now, cache=cache
    )


def _trend(
    session: Any, ctx: WebContext, result: RatingResult, now: datetime, cache: WeekCache
) -> Trend:
    """The 12 weeks ending with the shown one; the shown week is not computed twice."""
    return service.trend(
        session,
        week=result.week,
        calendar=ctx.calendar,
        weights=ctx.rating_config,
        now=now,
        known={result.week: result},
        cache=cache,
    )


def _latest(trend: Trend, line: TrendLine) -> tuple[str, float, int | None] | None:
    """(week, index, rank) of the latest week in which the department had a place."""
    known = [
        (week, value, rank)
        for week, value, rank in zip(trend.weeks, line.index, line.rank, strict=True)
        if value is not None
    ]
    return known[-1] if known else None


def _trend_view(trend: Trend, result: RatingResult) -> dict[str, Any]:
    """Small charts in the table's order; departments never placed are only named."""
    lines = ordered_lines(trend, order=[unit.key for unit in result.units])
    return {
        "weeks": list(trend.weeks),
        "published": list(trend.published),
        "lines": lines,
        "charts": [
            {
                "line": line,
                "plot": charts.line_plot(
                    line.index, trend.weeks, box=TREND_BOX, solid=trend.published
                ),
                "latest": _latest(trend, line),
            }
            for line in lines
            if line.has_values
        ],
        "never": [line.department for line in lines if not line.has_values],
        "size": TREND_SIZE,
        "box": TREND_BOX,
        "name_chars": TREND_NAME_CHARS,
    }


def _chart(units: list[dict[str, Any]]) -> list[tuple[charts.Bar, dict[str, Any]]]:
    ranked = [u for u in units if u["index"] is not None]
    bars = charts.horizontal_bars(
        [u["index"] for u in ranked], [u["department"] for u in ranked], width=CHART_WIDTH
    )
    return list(zip(bars, ranked, strict=True))


@router.get("/rating", response_class=HTMLResponse)
def rating_page(
    request: Request, session: DbSession, user: CurrentUser, ctx: Ctx, week: str = ""
) -> Response:
    """The ranking of a week (default: the last finished week)."""
    now = datetime.now(UTC)
    current = week_of(now, ctx.tz)
    week = _valid_week(week.strip() or shift_week(current, -1), now, ctx.tz)
    cache = _week_cache(request)
    result = _result(session, ctx, week, now, cache)
    data = page_dict(result)
    weeks = [shift_week(current, -offset) for offset in range(WEEKS_IN_SELECTOR)]
    scale = CHART_WIDTH / 100
    return render(
        request,
        "rating.html",
        {
            "user": user,
            "r": data,
            "week": week,
            "weeks": weeks if week in weeks else [week, *weeks],
            "current": current,
            "chart": _chart(data["units"]),
            "chart_width": CHART_WIDTH,
            "scale": scale,
            "trend": _trend_view(_trend(session, ctx, result, now, cache), result),
        },
    )


@router.get("/rating/{week}.{ext}")
def rating_file(request: Request, session: DbSession, ctx: Ctx, week: str, ext: str) -> Response:
    """The XLSX or PDF report of a week with its 12-week trend, built by rating.report."""
    if ext not in MEDIA:
        raise HTTPException(status_code=404, detail="Нет такого формата")
    now = datetime.now(UTC)
    cache = _week_cache(request)
    result = _result(session, ctx, _valid_week(week, now, ctx.tz), now, cache)
    trend = _trend(session, ctx, result, now, cache)
    with tempfile.TemporaryDirectory(prefix="mcu-rating-") as tmp:
        path = Path(tmp) / f"rating.{ext}"
        if ext == "xlsx":
            report.write_xlsx(result, path, trend=trend)
        else:
            report.write_pdf(result, path, trend=trend)
        body = path.read_bytes()
    name = f"Рейтинг отделов {week}.{ext}"
    disposition = f"attachment; filename=\"rating-{week}.{ext}\"; filename*=UTF-8''{quote(name)}"
    return Response(body, media_type=MEDIA[ext], headers={"Content-Disposition": disposition})
