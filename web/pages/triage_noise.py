"""`/triage/noise`: messages intake set aside as noise; the operator confirms or rescues them."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from core.errors import NotFoundError
from incidents.intake import intake_message
from web.deps import CSRF, Ctx, CurrentUser, DbSession, require
from web.pages.common import pages_for, render, see_other, with_notice
from web.pages.triage_ops import NOISE_BLOCK
from web.repository import reference
from web.repository import triage as repo

router = APIRouter(include_in_schema=False, dependencies=[require("triage"), CSRF])

PER_PAGE = 30


@router.get("/triage/noise", response_class=HTMLResponse)
def noise_page(request: Request, session: DbSession, user: CurrentUser, page: int = 1) -> Response:
    """Unlinked messages the classifier called noise."""
    page = max(page, 1)
    total = repo.count_noise(session)
    ctx = {
        "user": user,
        "rows": repo.noise_messages(session, limit=PER_PAGE, offset=(page - 1) * PER_PAGE),
        "total": total,
        "page": page,
        "pages": pages_for(total, PER_PAGE),
        "blocks": reference.block_choices(session),
        "names": reference.block_names(session),
    }
    return render(request, "triage_noise.html", ctx)


@router.post("/triage/noise/{message_id}")
def label_message(
    session: DbSession, user: CurrentUser, ctx: Ctx, message_id: int, block: str = Form(...)
) -> Response:
    """Confirm the noise (block «other») or give a block: intake then opens an incident."""
    message = repo.noise_message(session, message_id=message_id)
    if message is None:
        raise HTTPException(status_code=404, detail="Сообщение уже разобрано")
    if block != NOISE_BLOCK and not reference.block_exists(session, code=block):
        raise NotFoundError(f"Нет блока «{block}»")
    now = datetime.now(UTC)
    repo.store_correction(session, message=message, block=block, user_id=user.id, now=now)
    if block == NOISE_BLOCK:
        return see_other(with_notice("/triage/noise", "Отмечено как шум"))
    correction = repo.latest_correction(session, message_id=message.id)
    assert correction is not None  # stored just above
    result = intake_message(
        session,
        message=message,
        classification=correction,
        settings=ctx.intake_settings,
        calendar=ctx.calendar,
        now=now,
    )
    if result.incident is None:
        return see_other(with_notice("/triage/noise", "Сообщение осталось шумом"))
    verb = "создан" if result.created else "дополнен (дубликат)"
    notice = f"Инцидент {result.incident.number} {verb}"
    return see_other(with_notice(f"/incidents/{result.incident.id}", notice))
