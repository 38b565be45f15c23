"""`/triage`: the operators' live queue with corrections, assignment, merge and bulk actions."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from core.errors import AppError
from core.models import Incident, User
from web.api_status import active_model_version
from web.auth import csrf_token
from web.deps import CSRF, Ctx, CurrentUser, DbSession, require
from web.formatting import OptionList
from web.pages import triage_ops as ops
from web.pages.common import (
    form_choices,
    is_partial,
    pages_for,
    query_without,
    render,
    safe_path,
    see_other,
    shared,
    templates_of,
    to_int,
    with_notice,
)
from web.pages.lists import Filters, ListQuery, filter_options
from web.repository import incidents as repo
from web.repository import reference
from web.repository import triage as triage_repo
from web.repository.scope import IncidentScope

router = APIRouter(include_in_schema=False, dependencies=[require("triage"), CSRF])

TRIAGE_PER_PAGE = 25
REFRESH_SECONDS = 20
ALL_SCOPE = IncidentScope()


def _queue(query: ListQuery) -> ListQuery:
    """The triage default is the queue of new, reopened and needs-review incidents."""
    if query.flt.status:
        return query
    return replace(query, flt=replace(query.flt, status="queue"))


def _list_ctx(
    request: Request,
    session: Session,
    query: ListQuery,
    choices: reference.FormChoices,
    *,
    back: str,
) -> dict[str, Any]:
    """What the queue list shows (the CSRF token is the caller's to add)."""
    now = datetime.now(UTC)
    total = repo.count_incidents(session, flt=query.flt, scope=ALL_SCOPE, now=now)
    rows = repo.list_incidents(
        session,
        flt=query.flt,
        scope=ALL_SCOPE,
        now=now,
        limit=TRIAGE_PER_PAGE,
        offset=(query.page - 1) * TRIAGE_PER_PAGE,
        order="due",
    )
    return {
        "items": rows,
        "extras": repo.triage_extras(session, incident_ids=[r.id for r in rows]),
        "total": total,
        "capped": total > repo.COUNT_CAP,
        "page": query.page,
        "pages": pages_for(min(total, repo.COUNT_CAP), TRIAGE_PER_PAGE),
        "query": query_without(request, "page", "notice"),
        "back": back,
        "now": now,
    } | _item_choices(choices)


def _item_choices(choices: reference.FormChoices) -> dict[str, Any]:
    """The selects of every queue item, rendered once for the whole page."""
    dept = ' data-dept="{}"'
    return {
        "all_blocks": choices.blocks,
        "departments": choices.departments,
        "executors": choices.executors,
        "block_names": {b.value: b.label for b in choices.blocks},
        "block_options": OptionList((b.value, b.label, "") for b in choices.blocks),
        "department_options": OptionList((d.value, d.label, "") for d in choices.departments),
        "executor_options": OptionList(
            (e.id, e.name, dept.format(escape(str(e.department_id)))) for e in choices.executors
        ),
    }


@router.get("/triage", response_class=HTMLResponse)
def triage_page(
    request: Request, session: DbSession, user: CurrentUser, query: Filters, web: Ctx
) -> Response:
    """The queue with filters, bulk bar, keyboard help and the classifier's version."""
    query, choices = _queue(query), form_choices(request, session)
    back = str(request.url.path) + ("?" + request.url.query if request.url.query else "")
    ctx = _item_choices(choices) | filter_options(choices)
    ctx |= {
        "user": user,
        "flt": query.flt,
        "refresh": REFRESH_SECONDS,
        "query": query_without(request, "page", "notice"),
        "back": back,
        "queue_html": _list_html(request, session, query, choices, back=back),
        "model_version": active_model_version(web.settings.models_dir),
    }
    return render(request, "triage.html", ctx)


@router.get("/triage/list", response_class=HTMLResponse)
def triage_list(request: Request, session: DbSession, query: Filters) -> Response:
    """The list fragment the page re-fetches every few seconds."""
    query = _queue(query)
    back = "/triage?" + query_without(request, "page", "notice")
    return HTMLResponse(
        _list_html(request, session, query, form_choices(request, session), back=back)
    )


# Stands for the session's CSRF token in a queue list shared by several sessions: random per
# process, so no text of a message can contain it.
CSRF_MARK = f"csrf-{secrets.token_hex(16)}"


def _list_html(
    request: Request,
    session: Session,
    query: ListQuery,
    choices: reference.FormChoices,
    *,
    back: str,
) -> Markup:
    """The queue list as HTML with this session's CSRF token.

    The list reads ALL_SCOPE whoever asks (the triage permission is checked before), so
    the requests of one data version share one rendering (`shared`): it is made with a
    mark for the token, put in per request.
    """

    def build() -> str:
        ctx = _list_ctx(request, session, query, choices, back=back) | {"csrf": CSRF_MARK}
        return templates_of(request).get_template("_triage_list.html").render(ctx)

    key = ("triage_list", str(request.url.query), back)
    html = shared(request, key, build)
    return Markup(html.replace(CSRF_MARK, csrf_token(request)))


def _incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id, with_for_update=True)
    if incident is None:
        raise HTTPException(status_code=404, detail="Инцидент не найден")
    return incident


def _done(
    request: Request, session: Session, incident: Incident, back: str, notice: str
) -> Response:
    """The re-rendered item for the page's script, or a redirect back with a notice."""
    if not is_partial(request):
        return see_other(with_notice(safe_path(back, "/triage"), notice))
    ctx = {
        "inc": repo.row_by_id(session, incident_id=incident.id, now=datetime.now(UTC)),
        "extra": repo.triage_extras(session, incident_ids=[incident.id]).get(incident.id),
        "notice": notice,
        "back": safe_path(back, "/triage"),
    } | _item_choices(reference.form_choices(session))
    return render(request, "_triage_item.html", ctx)


def _failed(request: Request, back: str, exc: AppError) -> Response:
    if is_partial(request):
        return Response(str(exc), status_code=exc.status_code, media_type="text/plain")
    return see_other(with_notice(safe_path(back, "/triage"), f"Ошибка: {exc}"))


def _act(request: Request, session: Session, incident_id: int, back: str, action: Any) -> Response:
    incident = _incident(session, incident_id)
    try:
        notice = action(incident)
    except AppError as exc:
        session.rollback()
        return _failed(request, back, exc)
    return _done(request, session, incident, back, notice)


@router.post("/triage/{incident_id}/block")
def correct_block(
    request: Request,
    session: DbSession,
    user: CurrentUser,
    incident_id: int,
    block: str = Form(...),
    back: str = Form("/triage"),
) -> Response:
    """One-click correction: a TrainingExample per message, the block changed, re-routed."""
    now = datetime.now(UTC)
    return _act(
        request,
        session,
        incident_id,
        back,
        lambda inc: ops.change_block(session, incident=inc, block=block, user=user, now=now),
    )


@router.post("/triage/{incident_id}/assign")
def assign(
    request: Request,
    session: DbSession,
    user: CurrentUser,
    incident_id: int,
    department_id: str = Form(""),
    executor_id: str = Form(""),
    back: str = Form("/triage"),
) -> Response:
    """Assign to a department (and executor)."""
    dept, executor, now = to_int(department_id), to_int(executor_id), datetime.now(UTC)
    if dept is None:
        return _failed(request, back, AppError("Выберите отдел"))
    return _act(
        request,
        session,
        incident_id,
        back,
        lambda inc: ops.assign(
            session, incident=inc, department_id=dept, executor_id=executor, user=user, now=now
        ),
    )


@router.post("/triage/{incident_id}/merge")
def merge(
    request: Request,
    session: DbSession,
    user: CurrentUser,
    incident_id: int,
    target: str = Form(""),
    back: str = Form("/triage"),
) -> Response:
    """Merge this incident into another (by number or id)."""
    now = datetime.now(UTC)

    def action(inc: Incident) -> str:
        merged = ops.merge(session, incident=inc, target_ref=target, user=user, now=now)
        return f"Инцидент {inc.number} объединён с {merged.number}"

    return _act(request, session, incident_id, back, action)


def _bulk_action(form: dict[str, str], session: Session, user: User, ctx: Ctx) -> Any:
    now, kind = datetime.now(UTC), form.get("action", "")
    if kind == "block":
        block = form.get("block", "")
        return lambda inc: ops.change_block(session, incident=inc, block=block, user=user, now=now)
    if kind == "assign":
        dept, executor = to_int(form.get("department_id")), to_int(form.get("executor_id"))
        if dept is None:
            raise AppError("Выберите отдел для назначения")
        return lambda inc: ops.assign(
            session, incident=inc, department_id=dept, executor_id=executor, user=user, now=now
        )
    if kind == "noise":
        return lambda inc: ops.close_as_noise(
            session, incident=inc, user=user, now=now, calendar=ctx.calendar
        )
    raise AppError("Выберите действие")


@router.post("/triage/bulk")
async def bulk(request: Request, session: DbSession, user: CurrentUser, ctx: Ctx) -> Response:
    """Apply one action to the checked incidents."""
    form = await request.form()
    back = safe_path(str(form.get("back", "/triage")), "/triage")
    ids = sorted({i for i in (to_int(v) for v in form.getlist("ids")) if i is not None})[:200]
    fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    if not ids:
        return see_other(with_notice(back, "Отметьте инциденты флажками"))
    try:
        action = _bulk_action(fields, session, user, ctx)
    except AppError as exc:
        return see_other(with_notice(back, f"Ошибка: {exc}"))
    done, errors = ops.run_bulk(triage_repo.incidents_by_ids(session, ids=ids), action)
    notice = f"Выполнено: {done} из {len(ids)}"
    if errors:
        notice += ". Не выполнено: " + "; ".join(dict.fromkeys(errors))[:200]
    return see_other(with_notice(back, notice))
