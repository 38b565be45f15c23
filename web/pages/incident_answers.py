"""The answer editor: the «отписка» check before publishing, then the published answer."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from core.errors import AppError
from core.models import Incident, User
from incidents import repository as incidents_repo
from incidents import service
from incidents.formal import FormalCheck, check_formal_reply
from web.deps import CSRF, Ctx, CurrentUser, DbSession, require
from web.pages.common import render, see_other, with_notice
from web.pages.incident import page_context, visible_incident
from web.repository import detail as repo

router = APIRouter(include_in_schema=False, dependencies=[require("incidents.act"), CSRF])

MAX_ANSWER_CHARS = 4000


def run_check(session: Session, incident: Incident, text: str) -> FormalCheck:
    """The same check add_answer applies, against this incident's and department's answers."""
    previous = incidents_repo.previous_answer_texts(
        session, incident_id=incident.id, department_id=incident.department_id
    )
    return check_formal_reply(text, previous_answers=previous)


@router.post("/incidents/{incident_id}/answers/check")
def check_answer(
    session: DbSession,
    incident: Incident = Depends(visible_incident),
    text: str = Form(""),
) -> Response:
    """JSON for the editor's «Проверить» button: flagged and the reasons in Russian."""
    result = run_check(session, incident, text[:MAX_ANSWER_CHARS])
    return JSONResponse({"flagged": result.flagged, "reasons": list(result.reasons)})


def _redisplay(
    request: Request, session: Session, incident: Incident, user: User, ctx: Ctx, **extra: object
) -> Response:
    data = page_context(session, incident=incident, user=user, ctx=ctx) | extra
    return render(request, "incident.html", data, status_code=200 if "check" in extra else 400)


@router.post("/incidents/{incident_id}/answers")
def publish_answer(
    request: Request,
    session: DbSession,
    user: CurrentUser,
    ctx: Ctx,
    incident: Incident = Depends(visible_incident),
    kind: str = Form("final"),
    text: str = Form(""),
    confirmed: str = Form(""),
) -> Response:
    """Publish an answer; a flagged «отписка» needs an explicit confirmation first."""
    text = text.strip()[:MAX_ANSWER_CHARS]
    draft = {"kind": kind, "text": text}
    check = run_check(session, incident, text)
    if text and check.flagged and confirmed != "1":
        return _redisplay(request, session, incident, user, ctx, draft=draft, check=check)
    now = datetime.now(UTC)
    try:
        answer = service.add_answer(
            session,
            incident=incident,
            author=user,
            kind=kind,
            text=text,
            now=now,
            calendar=ctx.calendar,
        )
    except AppError as exc:
        session.rollback()
        incident = session.get(Incident, incident.id) or incident
        return _redisplay(request, session, incident, user, ctx, draft=draft, error=str(exc))
    stored = repo.answer_by_id(session, answer_id=answer.id)
    if stored is not None:
        stored.published_at = now  # add_answer has no publish step yet (see the report)
    notice = "Ответ опубликован" + (
        " (отмечен как возможная отписка)" if answer.formal_reply else ""
    )
    return see_other(with_notice(f"/incidents/{incident.id}", notice))
