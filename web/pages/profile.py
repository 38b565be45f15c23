"""`/profile`: the signed-in user's Telegram link (one-time code, unlink) and quiet hours."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from alerts import linking
from alerts import repository as alerts_repo
from core.models import User
from web.deps import CSRF, Ctx, CurrentUser, DbSession, WebContext
from web.pages.common import render, see_other, with_notice

router = APIRouter(include_in_schema=False, dependencies=[CSRF])

HHMM = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d")
# What each role receives in Telegram (shown on the page, so nobody wonders).
ALERTS_BY_ROLE = {
    "sector_head": (
        "новые инциденты ваших блоков — одной сводкой раз в час; срочные, "
        "истечение срока и возобновлённые — сразу"
    ),
    "executor": "назначенные вам инциденты; напоминания на 50% и 80% срока",
    "coordinator": "эскалации просроченных инцидентов; сводка за сутки в 09:00",
    "head": "итоги дня в 09:00; рейтинг отделов с отчётом PDF по понедельникам",
}


def _telegram(session: Session, user: User, ctx: WebContext, now: datetime) -> dict[str, Any]:
    """The link's state and, while it is valid, the one-time code with instructions."""
    link = alerts_repo.link_of(session, user_id=user.id)
    code = None
    if link is not None and link.link_code and link.code_expires_at and link.code_expires_at > now:
        code = link.link_code
    # MCU_TELEGRAM_BOT_USERNAME, when set, adds a t.me deep link next to the /start code.
    bot = ctx.settings.telegram_bot_username
    return {
        "linked": bool(link and link.active),
        "linked_at": link.linked_at if link else None,
        "blocked_at": link.blocked_at if link and not link.active else None,
        "code": code,
        "code_expires_at": link.code_expires_at if code and link else None,
        "deep_link": linking.deep_link(bot, code) if bot and code else None,
    }


def _page(
    request: Request,
    session: Session,
    user: User,
    ctx: WebContext,
    *,
    error: str | None = None,
    quiet: tuple[str, str] | None = None,
) -> Response:
    quiet_from, quiet_to = quiet or (user.quiet_from or "", user.quiet_to or "")
    return render(
        request,
        "profile.html",
        {
            "user": user,
            "tg": _telegram(session, user, ctx, datetime.now(UTC)),
            "receives": ALERTS_BY_ROLE.get(user.role),
            "quiet_from": quiet_from,
            "quiet_to": quiet_to,
            "error": error,
        },
        status_code=400 if error else 200,
    )


@router.get("/profile", response_class=HTMLResponse)
def profile_page(request: Request, session: DbSession, user: CurrentUser, ctx: Ctx) -> Response:
    """Telegram link and quiet hours of the signed-in user."""
    return _page(request, session, user, ctx)


@router.post("/profile/telegram/code")
def new_code(session: DbSession, user: CurrentUser) -> Response:
    """A fresh one-time code for `/start CODE` (replaces an earlier one)."""
    linking.create_link_code(session, user=user, now=datetime.now(UTC))
    return see_other(with_notice("/profile", "Код создан: отправьте его боту в течение 15 минут"))


@router.post("/profile/telegram/unlink")
def unlink(session: DbSession, user: CurrentUser) -> Response:
    """Stop Telegram alerts for the signed-in user."""
    done = linking.unlink(session, user=user)
    notice = "Telegram отвязан: уведомления больше не приходят" if done else "Telegram не привязан"
    return see_other(with_notice("/profile", notice))


def quiet_error(quiet_from: str, quiet_to: str) -> str | None:
    """Why the quiet hours cannot be saved, or None (both empty clears them)."""
    if not quiet_from and not quiet_to:
        return None
    if not (HHMM.fullmatch(quiet_from) and HHMM.fullmatch(quiet_to)):
        return "Укажите начало и конец тихих часов в виде ЧЧ:ММ, например 22:00 и 08:00"
    if quiet_from == quiet_to:
        return "Начало и конец тихих часов совпадают"
    return None


@router.post("/profile/quiet")
def save_quiet(
    request: Request,
    session: DbSession,
    user: CurrentUser,
    ctx: Ctx,
    quiet_from: str = Form(""),
    quiet_to: str = Form(""),
) -> Response:
    """Save (or clear) the quiet hours; urgent alerts ignore them."""
    quiet_from, quiet_to = quiet_from.strip(), quiet_to.strip()
    error = quiet_error(quiet_from, quiet_to)
    if error is not None:
        return _page(request, session, user, ctx, error=error, quiet=(quiet_from, quiet_to))
    user.quiet_from, user.quiet_to = quiet_from or None, quiet_to or None
    notice = f"Тихие часы: {quiet_from}–{quiet_to}" if quiet_from else "Тихие часы отключены"
    return see_other(with_notice("/profile", notice))
