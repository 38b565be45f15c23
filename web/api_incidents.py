"""`GET /api/v1/incidents`: the incident list as JSON for signed-in staff (scope applies)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from web.deps import DbSession, Scope, require
from web.pages.common import shared
from web.pages.lists import Filters
from web.repository import incidents as repo

router = APIRouter(prefix="/api/v1", tags=["инциденты"], dependencies=[require("incidents.view")])


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _item(row: repo.IncidentRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "number": row.number,
        "title": row.title,
        "block": row.block_code,
        "block_name": row.block_name,
        "status": row.status,
        "urgent": row.urgent,
        "needs_review": row.needs_review,
        "settlement": row.settlement,
        "department_id": row.department_id,
        "department": row.department,
        "executor": row.executor,
        "received_at": _iso(row.received_at),
        "due_at": _iso(row.due_at),
        "message_count": row.message_count,
    }


# A JSONResponse, not a dict: FastAPI would validate the dict against `dict[str, Any]` in
# another trip to the thread pool before serializing it.
@router.get("/incidents", response_model=None)
def list_incidents(
    request: Request,
    session: DbSession,
    scope: Scope,
    query: Filters,
    per_page: int = Query(50, ge=1, le=200),
    order: str = Query("recent", pattern="^(recent|due)$"),
) -> Response:
    """Incidents visible to the caller, filtered (status, block, kind, settlement, overdue, q)."""

    def build() -> bytes:
        now = datetime.now(UTC)
        rows = repo.list_incidents(
            session,
            flt=query.flt,
            scope=scope,
            now=now,
            limit=per_page,
            offset=(query.page - 1) * per_page,
            order=order,
        )
        total = repo.count_incidents(session, flt=query.flt, scope=scope, now=now)
        body = {
            "items": [_item(r) for r in rows],
            "page": query.page,
            "per_page": per_page,
            "total": min(total, repo.COUNT_CAP),
            "total_capped": total > repo.COUNT_CAP,
        }
        return bytes(JSONResponse(body).body)

    # The answer depends on the caller only through the scope: callers with the same scope
    # share it while the data version holds (web.pages.common.shared).
    key = ("api_incidents", scope, query.flt, query.page, per_page, order)
    return Response(shared(request, key, build), media_type="application/json")
