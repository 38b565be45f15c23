"""`/incidents`: the incident list every staff role sees (limited to the user's scope)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from core.models import INCIDENT_STATUSES
from web.deps import CurrentUser, DbSession, Scope, require
from web.pages.common import PER_PAGE, form_choices, pages_for, query_without, render
from web.repository import incidents as repo
from web.repository import reference

router = APIRouter(include_in_schema=False, dependencies=[require("incidents.view")])


@dataclass(frozen=True)
class ListQuery:
    """Filters from the query string (strings are only ever bound as SQL parameters)."""

    flt: repo.IncidentFilter
    page: int


async def list_query(
    q: str = "",
    block: str = "",
    kind: str = "",
    settlement: str = "",
    status: str = "",
    overdue: str = "",
    department: str = "",
    page: int = 1,
) -> ListQuery:
    """Parse the list filters; unknown values simply match nothing (async: no thread hop)."""
    flt = repo.IncidentFilter(
        status=status.strip()[:20],
        block=block.strip()[:40],
        source_kind=kind.strip()[:20],
        settlement=settlement.strip()[:120],
        department_id=int(department) if department.isdigit() else None,
        overdue=overdue in ("1", "on", "true"),
        q=q[:200],
    )
    return ListQuery(flt=flt, page=max(page, 1))


Filters = Annotated[ListQuery, Depends(list_query)]


def filter_options(choices: reference.FormChoices) -> dict[str, Any]:
    """Choices of the filter form."""
    return {
        "blocks": choices.all_blocks,
        "settlements": choices.settlements,
        "statuses": INCIDENT_STATUSES,
    }


@router.get("/incidents", response_class=HTMLResponse)
def incident_list(
    request: Request, session: DbSession, user: CurrentUser, scope: Scope, query: Filters
) -> Response:
    """All incidents the user may see, filtered, newest first."""
    now = datetime.now(UTC)
    total = repo.count_incidents(session, flt=query.flt, scope=scope, now=now)
    rows = repo.list_incidents(
        session,
        flt=query.flt,
        scope=scope,
        now=now,
        limit=PER_PAGE,
        offset=(query.page - 1) * PER_PAGE,
    )
    ctx = {
        "user": user,
        "incidents": rows,
        "flt": query.flt,
        "total": total,
        "capped": total > repo.COUNT_CAP,
        "page": query.page,
        "pages": pages_for(min(total, repo.COUNT_CAP)),
        "query": query_without(request, "page", "notice"),
        **filter_options(form_choices(request, session)),
    }
    return render(request, "incidents.html", ctx)
