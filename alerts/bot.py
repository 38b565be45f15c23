"""The staff bot: `/start CODE` links a chat; alert buttons act as the linked user.

State changes go through callables the composition root injects (`on_accept`,
`on_assign`), because `alerts` may not import `incidents`. They are synchronous (they use
the database), so they run in a worker thread; they return the text to show the user and
raise `AppError` (its message is shown) when the action is not allowed.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiogram import Bot, Dispatcher, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.orm import Session, sessionmaker

from alerts import repository as repo
from alerts.linking import complete_link, unlink
from core.errors import AppError

log = logging.getLogger("mcu.alerts.bot")
T = TypeVar("T")

NOT_LINKED = (
    "Этот Telegram не привязан к учётной записи МЦУ. "
    "Привяжите его в профиле на сайте МЦУ (кнопка «Привязать Telegram»)."
)
HOW_TO_LINK = (
    "Чтобы получать уведомления МЦУ, откройте свой профиль на сайте МЦУ "
    "и нажмите «Привязать Telegram»."
)
BAD_CODE = "Код недействителен или устарел. Получите новый в профиле на сайте МЦУ."
PRIVATE_ONLY = "Привязка возможна только в личном чате с ботом."
ACTION_FAILED = "Не удалось выполнить действие. Попробуйте в веб-интерфейсе МЦУ."
ANSWER_LIMIT = 200  # Telegram's limit for callback answers


class AcceptCb(CallbackData, prefix="acc"):
    """«Принять»: `acc:{incident_id}`."""

    incident_id: int


class AssignCb(CallbackData, prefix="asg"):
    """«Назначить исполнителя»: `asg:{incident_id}`."""

    incident_id: int


class ExecutorCb(CallbackData, prefix="ex"):
    """One executor in the list: `ex:{incident_id}:{user_id}`."""

    incident_id: int
    user_id: int


@dataclass(frozen=True)
class BotDeps:
    """What the handlers need: sessions, the injected actions and a clock."""

    sessions: sessionmaker[Session]
    on_accept: Callable[[int, int], str]
    on_assign: Callable[[int, int, int], str]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


def _in_session(deps: BotDeps, work: Callable[[Session], T]) -> T:
    with deps.sessions() as session:
        result = work(session)
        session.commit()
        return result


async def _db(deps: BotDeps, work: Callable[[Session], T]) -> T:
    """Run blocking database work off the event loop."""
    return await asyncio.to_thread(_in_session, deps, work)


async def _act(action: Callable[..., str], *args: int) -> tuple[bool, str]:
    """Call an injected action; (ok, text to show)."""
    try:
        return True, await asyncio.to_thread(action, *args)
    except AppError as exc:
        return False, str(exc)
    except Exception:  # the user gets a clear answer; the traceback goes to the log
        log.exception("bot action %s%s failed", getattr(action, "__name__", action), args)
        return False, ACTION_FAILED


async def _actor(deps: BotDeps, query: CallbackQuery) -> int | None:
    """The linked staff account pressing the button (by the presser, not the chat)."""
    user = await _db(deps, lambda s: repo.user_for_chat(s, chat_id=query.from_user.id))
    return user.id if user is not None else None


def _start_text(session: Session, *, code: str, chat_id: int, now: datetime) -> str:
    if not code:
        user = repo.user_for_chat(session, chat_id=chat_id)
        if user is None:
            return HOW_TO_LINK
        return f"Этот чат привязан к учётной записи {html.escape(user.full_name or user.username)}."
    user = complete_link(session, code=code, chat_id=chat_id, now=now)
    if user is None:
        return BAD_CODE
    name = html.escape(user.full_name or user.username)
    return f"Готово: чат привязан к учётной записи {name}. Сюда будут приходить уведомления МЦУ."


def _stop_text(session: Session, *, chat_id: int) -> str:
    user = repo.user_for_chat(session, chat_id=chat_id)
    if user is None or not unlink(session, user=user):
        return "Этот чат не привязан к учётной записи МЦУ."
    return "Уведомления МЦУ в этот чат отключены. Привязать снова можно в профиле на сайте."


def _executor_keyboard(incident_id: int, executors: list[Any]) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                text=u.full_name or u.username,
                callback_data=ExecutorCb(incident_id=incident_id, user_id=u.id).pack(),
            )
        ]
        for u in executors
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def build_router(deps: BotDeps) -> Router:
    """Handlers for /start, /stop and the alert buttons."""
    router = Router(name="mcu_alerts")

    @router.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> None:
        if message.chat.type != "private":
            await message.answer(PRIVATE_ONLY)
            return
        code, chat_id, now = (command.args or "").strip(), message.chat.id, deps.clock()
        text = await _db(deps, lambda s: _start_text(s, code=code, chat_id=chat_id, now=now))
        await message.answer(text)

    @router.message(Command("stop"))
    async def stop(message: Message) -> None:
        await message.answer(await _db(deps, lambda s: _stop_text(s, chat_id=message.chat.id)))

    @router.callback_query(AcceptCb.filter())
    async def accept(query: CallbackQuery, callback_data: AcceptCb) -> None:
        actor = await _actor(deps, query)
        if actor is None:
            await query.answer(NOT_LINKED, show_alert=True)
            return
        _, text = await _act(deps.on_accept, actor, callback_data.incident_id)
        await query.answer(text[:ANSWER_LIMIT], show_alert=True)

    @router.callback_query(AssignCb.filter())
    async def choose(query: CallbackQuery, callback_data: AssignCb, bot: Bot) -> None:
        await _choose_executor(deps, query, callback_data.incident_id, bot)

    @router.callback_query(ExecutorCb.filter())
    async def assign(query: CallbackQuery, callback_data: ExecutorCb, bot: Bot) -> None:
        await _assign(deps, query, callback_data, bot)

    @router.callback_query(F.data)
    async def stale(query: CallbackQuery) -> None:
        await query.answer("Кнопка устарела.", show_alert=True)

    return router


async def _choose_executor(deps: BotDeps, query: CallbackQuery, incident_id: int, bot: Bot) -> None:
    """Reply with the incident department's executors as buttons."""
    if await _actor(deps, query) is None:
        await query.answer(NOT_LINKED, show_alert=True)
        return

    def load(session: Session) -> tuple[str | None, list[Any]]:
        incident, users = repo.incident_department_executors(session, incident_id=incident_id)
        if incident is None:
            return None, []
        return incident.number or f"#{incident.id}", users

    number, executors = await _db(deps, load)
    if number is None:
        await query.answer("Инцидент не найден.", show_alert=True)
        return
    if not executors:
        await query.answer(
            "В отделе нет исполнителей: назначьте в веб-интерфейсе.", show_alert=True
        )
        return
    await query.answer()
    await bot.send_message(
        chat_id=query.from_user.id,
        text=f"Кому назначить инцидент №{html.escape(number)}?",
        reply_markup=_executor_keyboard(incident_id, executors),
    )


async def _assign(deps: BotDeps, query: CallbackQuery, data: ExecutorCb, bot: Bot) -> None:
    """Assign through the injected action; drop the list's buttons once it worked."""
    actor = await _actor(deps, query)
    if actor is None:
        await query.answer(NOT_LINKED, show_alert=True)
        return
    ok, text = await _act(deps.on_assign, actor, data.incident_id, data.user_id)
    await query.answer(text[:ANSWER_LIMIT], show_alert=True)
    if ok and isinstance(query.message, Message):
        await bot.edit_message_reply_markup(
            chat_id=query.message.chat.id, message_id=query.message.message_id, reply_markup=None
        )


def build_dispatcher(deps: BotDeps) -> Dispatcher:
    """A dispatcher with the staff router (run with `dp.start_polling(bot)`)."""
    dispatcher = Dispatcher()
    dispatcher.include_router(build_router(deps))
    return dispatcher
