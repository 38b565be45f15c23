"""`/rating`: the weekly department ranking with charts, movers and XLSX/PDF downloads."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from rating import report, service
from rating.scoring import RatingResult
from rating.serialize import page_dict
from rating.weeks import InvalidWeekError, shift_week, week_of, week_start_date
from web.deps import Ctx, CurrentUser, DbSession, WebContext, require
from web.pages import charts
from web.pages.common import render

router = APIRouter(include_in_schema=False, dependencies=[require("rating")])

WEEKS_IN_SELECTOR = 12
CHART_WIDTH = 560.0
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


def _result(session: Any, ctx: WebContext, week: str, now: datetime) -> RatingResult:
    return service.get_or_compute_snapshot(
        session, week=week, calendar=ctx.calendar, weights=ctx.rating_config, now=now
    )


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
    data = page_dict(_result(session, ctx, week, now))
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
        },
    )


@router.get("/rating/{week}.{ext}")
def rating_file(session: DbSession, ctx: Ctx, week: str, ext: str) -> Response:
    """The XLSX or PDF report of a week, built by rating.report."""
    if ext not in MEDIA:
        raise HTTPException(status_code=404, detail="Нет такого формата")
    now = datetime.now(UTC)
    result = _result(session, ctx, _valid_week(week, now, ctx.tz), now)
    with tempfile.TemporaryDirectory(prefix="mcu-rating-") as tmp:
        path = Path(tmp) / f"rating.{ext}"
        if ext == "xlsx":
            report.write_xlsx(result, path)
        else:
            report.write_pdf(result, path)
        body = path.read_bytes()
    name = f"Рейтинг отделов {week}.{ext}"
    disposition = f"attachment; filename=\"rating-{week}.{ext}\"; filename*=UTF-8''{quote(name)}"
    return Response(body, media_type=MEDIA[ext], headers={"Content-Disposition": disposition})
