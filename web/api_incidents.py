"""`GET /api/v1/incidents` and `/api/v1/incidents/{id}`: incidents as JSON for signed-in staff
(the caller's scope applies: what the pages would not show is 404)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from incidents import service
from web.deps import Ctx, DbSession, Scope, require, shared_async
from web.pages.common import shared
from web.pages.lists import Filters
from web.repository import detail
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
async def list_incidents(
    request: Request,
    session: DbSession,
    scope: Scope,
    query: Filters,
    per_page: int = Query(50, ge=1, le=200),
    order: str = Query("recent", pattern="^(recent|due)$"),
) -> Response:
    """Incidents visible to the caller, filtered (status, block, kind, settlement, overdue, q)."""

    def count() -> int:
        return repo.count_incidents(session, flt=query.flt, scope=scope, now=datetime.now(UTC))

    def build() -> bytes:
        rows = repo.list_incidents(
            session,
            flt=query.flt,
            scope=scope,
            now=datetime.now(UTC),
            limit=per_page,
            offset=(query.page - 1) * per_page,
            order=order,
        )
        # One count for every page and order of a filter: after a write, the twenty pages
        # clients are reading would otherwise each count up to COUNT_CAP rows again.
        total = shared(request, ("api_incidents_count", scope, query.flt), count)
        body = {
            "items": [_item(r) for r in rows],
            "page": query.page,
            "per_page": per_page,
            "total": min(total, repo.COUNT_CAP),
            "total_capped": total > repo.COUNT_CAP,
        }
        return bytes(JSONResponse(body).body)

    # The answer depends on the caller only through the scope: callers with the same scope
    # share it while the data version holds (web.pages.common.shared); async, so that a
    # shared answer costs no trip to the thread pool (the queries go there).
    key = ("api_incidents", scope, query.flt, query.page, per_page, order)
    return Response(await shared_async(request, key, build), media_type="application/json")


@router.get("/incidents/{incident_id}", response_model=None)
def get_incident(incident_id: int, session: DbSession, scope: Scope, ctx: Ctx) -> Response:
    """One incident: its fields, SLA clocks with working time left, messages from every
    channel, history, answers and the citizen's verdicts (404 outside the caller's scope)."""
    card = detail.incident_card(session, incident_id=incident_id, scope=scope)
    if card is None:
        raise HTTPException(status_code=404, detail="Инцидент не найден")
    inc = card.incident
    clocks = service.clocks(inc, now=datetime.now(UTC), calendar=ctx.calendar)
    body = {
        "id": inc.id,
        "number": inc.number,
        "title": inc.title,
        "block": inc.block_code,
        "block_name": card.names.get("block"),
        "status": inc.status,
        "urgent": inc.urgent,
        "needs_review": inc.needs_review,
        "place": {"settlement": inc.settlement, "street": inc.street, "house": inc.house},
        "department_id": inc.department_id,
        "department": card.names.get("department"),
        "executor": card.names.get("executor"),
        "sla_policy": inc.sla_policy,
        "received_at": _iso(inc.received_at),
        "due_at": _iso(inc.due_at),
        "clocks": [
            {
                "kind": c.kind,
                "due_at": _iso(c.due_at),
                "done_at": _iso(c.done_at),
                "working_seconds_left": int(c.left.total_seconds()),
                "overdue": c.overdue,
                "paused": c.paused,
            }
            for c in clocks
        ],
        "messages": [
            {
                "id": m.message_id,
                "source_kind": m.source_kind,
                "source": m.source_name,
                "author": m.author_name,
                "created_at": _iso(m.created_at),
                "text": m.text,
                "url": m.url,
            }
            for m in card.timeline
        ],
        "history": [
            {
                "at": _iso(e.at),
                "action": e.action,
                "actor": e.actor,
                "from": e.from_status,
                "to": e.to_status,
                "reason": e.reason,
            }
            for e in card.history
        ],
        "answers": [
            {
                "kind": a.kind,
                "text": a.text,
                "author": a.author,
                "created_at": _iso(a.created_at),
                "published_at": _iso(a.published_at),
            }
            for a in card.answers
        ],
        "feedback": [
            {"verdict": f.verdict, "comment": f.comment, "created_at": _iso(f.created_at)}
            for f in card.feedback
        ],
    }
    return JSONResponse(body)
