"""The dashboard `/`: counts by block and status, deadlines, 14-day trend, spikes, map, list."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from core.models import OPEN_STATUSES
from web.deps import Ctx, CurrentUser, DbSession, Scope, require
from web.memo import Memo
from web.pages import charts
from web.pages.common import PER_PAGE, pages_for, render
from web.repository import dashboard as repo
from web.repository import incidents as inc_repo
from web.repository import reference
from web.repository.scope import IncidentScope

router = APIRouter(include_in_schema=False, dependencies=[require("dashboard")])

TREND_DAYS = 14
MAP_WIDTH = 520.0
SHORT_STATUS = {
    "new": "Нов.",
    "assigned": "Назн.",
    "in_progress": "В раб.",
    "answered": "Ответ",
    "paused": "Пауза",
    "reopened": "Возоб.",
}


def _day_bounds(now: datetime, tz: str) -> tuple[datetime, datetime]:
    local = now.astimezone(ZoneInfo(tz)).date()
    start = datetime.combine(local, time(0), tzinfo=ZoneInfo(tz))
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def _flow(session: Any, scope: IncidentScope, now: datetime, tz: str) -> dict[str, Any]:
    """Trend bars for 14 days and spikes by block and settlement (today vs the 14 days before)."""
    today = now.astimezone(ZoneInfo(tz)).date()
    since = now - timedelta(days=TREND_DAYS + 2)
    rows = repo.received_since(session, scope=scope, since=since)
    total = charts.daily_series(
        ((at, "") for at, _, _ in rows), today=today, days=TREND_DAYS, tz=tz
    )
    values = total.get("", [0] * TREND_DAYS)
    days = charts.local_days(today, TREND_DAYS)
    bars, top = charts.vertical_bars(
        values, [d.strftime("%d.%m") for d in days], width=560, height=140
    )
    history = TREND_DAYS + 1
    by_block = charts.daily_series(((at, b) for at, b, _ in rows), today=today, days=history, tz=tz)
    by_place = charts.daily_series(
        ((at, s) for at, _, s in rows if s), today=today, days=history, tz=tz
    )
    names = reference.block_names(session)
    spikes = [("Блок", names.get(s.key, s.key), s) for s in charts.find_spikes(by_block)]
    spikes += [("Населённый пункт", s.key, s) for s in charts.find_spikes(by_place)]
    return {"bars": bars, "top": top, "spikes": spikes, "today_count": values[-1]}


def _map(session: Any, scope: IncidentScope) -> dict[str, Any] | None:
    """Settlements (labelled, circle by open incidents) and incidents with coordinates."""
    places = repo.settlements_with_coords(session)
    if not places:
        return None
    proj = charts.fit_projection([(p.lat, p.lon) for p in places], width=MAP_WIDTH)
    counts = repo.open_by_settlement(session, scope=scope)
    towns = [
        charts.MapPoint(*proj.point(p.lat, p.lon), p.name, counts.get(p.name, 0), p.admin_center)
        for p in places
    ]
    dots = [
        (inc_id, *proj.point(lat, lon), urgent)
        for inc_id, lat, lon, urgent in repo.open_points(session, scope=scope)
        if charts.in_box(proj, lat, lon)
    ]
    labels = charts.place_labels(towns, max_x=proj.width)
    return {
        "width": proj.width,
        "height": proj.height,
        "towns": towns,
        "dots": dots,
        "labels": labels,
    }


def _grid(session: Any, scope: IncidentScope, memo: Memo) -> list[dict[str, Any]]:
    """Open incidents by block and status (fresh) beside all-time totals (memoized)."""
    counts = repo.open_by_block_status(session, scope=scope)
    totals = memo.get(
        ("totals_by_block", scope), lambda: repo.totals_by_block(session, scope=scope)
    )
    grid = []
    for block in reference.block_choices(session, active_only=False):
        by_status = counts.get(block.value, {})
        open_count = sum(by_status.values())
        grid.append(
            {
                "code": block.value,
                "name": block.label,
                "open": open_count,
                "by": by_status,
                # The memo may be up to MCU_WEB_CACHE_SECONDS older than the open counts.
                "total": max(totals.get(block.value, 0), open_count),
            }
        )
    return grid


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request, session: DbSession, user: CurrentUser, scope: Scope, ctx: Ctx, page: int = 1
) -> Response:
    """The summary page (every figure limited to what the user may see)."""
    page, now = max(page, 1), datetime.now(UTC)
    start, end = _day_bounds(now, ctx.tz)
    flt = inc_repo.IncidentFilter()
    total = inc_repo.count_incidents(session, flt=flt, scope=scope, now=now)
    rows = inc_repo.list_incidents(
        session, flt=flt, scope=scope, now=now, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
    )
    data = {
        "user": user,
        "incidents": rows,
        "grid": _grid(session, scope, ctx.memo),
        "overdue": repo.overdue_now(session, scope=scope, now=now),
        "due_today": repo.due_between(session, scope=scope, start=max(start, now), end=end),
        "total": total,
        "capped": total > inc_repo.COUNT_CAP,
        "messages": (
            ctx.memo.get("messages_total", lambda: repo.messages_total(session))
            if scope.everything
            else None
        ),
        "flow": _flow(session, scope, now, ctx.tz),
        "map": _map(session, scope),
        "page": page,
        "pages": pages_for(min(total, inc_repo.COUNT_CAP)),
        "statuses": list(OPEN_STATUSES),
        "short_status": SHORT_STATUS,
        "sqrt": math.sqrt,
    }
    return render(request, "dashboard.html", data)
