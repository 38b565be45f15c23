"""`/incidents/{id}`: messages across channels, place, SLA clocks, history, status changes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from core.errors import AppError
from core.models import Incident, User
from incidents import service
from incidents.lifecycle import TRANSITIONS
from web.auth import can
from web.deps import CSRF, Ctx, CurrentUser, DbSession, Scope, WebContext, require
from web.pages import triage_ops as ops
from web.pages.common import form_choices, render, see_other, to_int, with_notice
from web.repository import detail as repo
from web.repository import reference
from web.repository.scope import IncidentScope

router = APIRouter(include_in_schema=False, dependencies=[require("incidents.view"), CSRF])

# Answers and assignment have their own forms; the buttons offer the other legal moves.
BUTTON_EXCLUDED = frozenset({"answered", "assigned"})
BUTTON_ORDER = ("in_progress", "paused", "resolved", "closed", "reopened", "rejected")


def load_visible(session: Session, incident_id: int, scope: Any) -> Incident:
    """The incident if the user's scope allows it; 404 otherwise (existence is not revealed)."""
    incident = repo.visible_incident(session, incident_id=incident_id, scope=scope)
    if incident is None:
        raise HTTPException(status_code=404, detail="Инцидент не найден")
    return incident


def visible_incident(incident_id: int, session: DbSession, scope: Scope) -> Incident:
    """Dependency form of `load_visible`."""
    return load_visible(session, incident_id, scope)


def status_buttons(status: str) -> list[str]:
    """Legal next statuses offered as buttons, in a stable order."""
    allowed = TRANSITIONS.get(status, frozenset()) - BUTTON_EXCLUDED
    return [s for s in BUTTON_ORDER if s in allowed]


def page_context(
    session: Session,
    *,
    incident: Incident,
    user: User,
    ctx: WebContext,
    card: repo.IncidentCard | None = None,
    choices: reference.FormChoices | None = None,
) -> dict[str, Any]:
    """Everything the incident page shows (`card` and `choices` read afresh when not given)."""
    if card is None:
        card = repo.incident_card(session, incident_id=incident.id, scope=IncidentScope())
    if card is None:  # deleted meanwhile
        raise HTTPException(status_code=404, detail="Инцидент не найден")
    if choices is None:
        choices = reference.form_choices(session)
    return {
        "user": user,
        "inc": incident,
        "names": card.names,
        "timeline": card.timeline,
        "history": card.history,
        "answers": card.answers,
        "feedback": card.feedback,
        "clocks": service.clocks(incident, now=datetime.now(UTC), calendar=ctx.calendar),
        "buttons": status_buttons(incident.status) if can(user.role, "incidents.act") else [],
        "departments": choices.departments,
        "executors": choices.executors,
        "draft": None,
        "check": None,
    }


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(
    request: Request,
    session: DbSession,
    user: CurrentUser,
    ctx: Ctx,
    scope: Scope,
    incident_id: int,
) -> Response:
    """The incident card (loaded here, not in a dependency: one trip to the thread pool)."""
    card = repo.incident_card(session, incident_id=incident_id, scope=scope)
    if card is None:
        raise HTTPException(status_code=404, detail="Инцидент не найден")
    choices = form_choices(request, session)
    data = page_context(
        session, incident=card.incident, user=user, ctx=ctx, card=card, choices=choices
    )
    return render(request, "incident.html", data)


def _back(incident: Incident, notice: str) -> Response:
    return see_other(with_notice(f"/incidents/{incident.id}", notice))


def _apply(session: Session, incident: Incident, action: Any, done: str) -> Response:
    """Run a domain action; on a domain error roll back and show its text."""
    try:
        action()
    except AppError as exc:
        session.rollback()
        return _back(incident, f"Ошибка: {exc}")
    return _back(incident, done)


@router.post("/incidents/{incident_id}/status", dependencies=[require("incidents.act")])
def change_status(
    session: DbSession,
    user: CurrentUser,
    ctx: Ctx,
    incident: Incident = Depends(visible_incident),
    to_status: str = Form(...),
    reason: str = Form(""),
    competent_body: str = Form(""),
) -> Response:
    """A status change the state machine allows (the service refuses the others)."""
    return _apply(
        session,
        incident,
        lambda: service.change_status(
            session,
            incident=incident,
            to_status=to_status,
            actor=user,
            now=datetime.now(UTC),
            calendar=ctx.calendar,
            reason=reason.strip() or None,
            competent_body=competent_body.strip() or None,
        ),
        "Статус изменён",
    )


@router.post("/incidents/{incident_id}/assign", dependencies=[require("incidents.assign")])
def assign(
    session: DbSession,
    user: CurrentUser,
    incident: Incident = Depends(visible_incident),
    department_id: str = Form(""),
    executor_id: str = Form(""),
) -> Response:
    """Assign to a department and optionally an executor of it."""
    dept = to_int(department_id)
    if dept is None:
        return _back(incident, "Ошибка: выберите отдел")
    return _apply(
        session,
        incident,
        lambda: ops.assign(
            session,
            incident=incident,
            department_id=dept,
            executor_id=to_int(executor_id),
            user=user,
            now=datetime.now(UTC),
        ),
        "Назначено",
    )


@router.post("/incidents/{incident_id}/extend", dependencies=[require("incidents.act")])
def extend(
    session: DbSession,
    user: CurrentUser,
    ctx: Ctx,
    incident: Incident = Depends(visible_incident),
    reason: str = Form(""),
) -> Response:
    """Extend the final deadline once, with a reason."""
    return _apply(
        session,
        incident,
        lambda: service.extend_deadline(
            session,
            incident=incident,
            actor=user,
            reason=reason,
            now=datetime.now(UTC),
            calendar=ctx.calendar,
        ),
        "Срок продлён",
    )


@router.post("/incidents/{incident_id}/split", dependencies=[require("triage")])
def split(
    session: DbSession,
    user: CurrentUser,
    ctx: Ctx,
    incident: Incident = Depends(visible_incident),
    message_id: str = Form(""),
) -> Response:
    """Take one message out into a new incident (routed and timed like at intake)."""
    msg_id = to_int(message_id)
    message = repo.message_in_incident(session, message_id=msg_id or 0, incident_id=incident.id)
    if message is None:
        return _back(incident, "Ошибка: сообщение не найдено в этом инциденте")
    try:
        new = service.split_message(
            session,
            message=message,
            actor=user,
            now=datetime.now(UTC),
            calendar=ctx.calendar,
            settings=ctx.intake_settings,
        )
    except AppError as exc:
        session.rollback()
        return _back(incident, f"Ошибка: {exc}")
    return see_other(with_notice(f"/incidents/{new.id}", f"Создан инцидент {new.number}"))


@router.post("/incidents/{incident_id}/feedback", dependencies=[require("triage")])
def feedback(
    session: DbSession,
    ctx: Ctx,
    incident: Incident = Depends(visible_incident),
    verdict: str = Form(""),
    comment: str = Form(""),
) -> Response:
    """Record the citizen's verdict received by phone or in person."""
    return _apply(
        session,
        incident,
        lambda: service.record_feedback(
            session,
            incident=incident,
            verdict=verdict,
            comment=comment.strip() or None,
            channel="phone",
            now=datetime.now(UTC),
            calendar=ctx.calendar,
        ),
        "Оценка заявителя записана",
    )
