"""The citizen side of the Telegram bot: report a problem, /status, verdicts, group posts.

Build it with `build_citizen_router(CitizenDeps(...))` and include it in the dispatcher
BEFORE the staff router of alerts/bot.py: that one answers every /start and every stale
button, so the citizen handlers must see updates first. `/start CODE` (a staff link code)
is left to the staff router; `/start` alone begins a citizen's report.

The conversation state lives in the dispatcher's FSM storage (aiogram's MemoryStorage unless
the bot is started with another): a restart forgets unfinished drafts, never stored messages.
Storage, status and verdicts are sync callables injected by the composition root, because
collectors may not import incidents; they run in a worker thread and raise AppError (its
text is shown) when they refuse.
"""

from __future__ import annotations

import html
import logging

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, ReplyKeyboardRemove

from collectors import telegram_posts as tp
from collectors.telegram_flow import (
    CitizenDeps,
    DraftCb,
    Refused,
    Report,
    call,
    confirm_draft,
    conversation_router,
    drop_buttons,
    edit_draft,
    reset,
    say,
    skip_keyboard,
)
from collectors.telegram_outbound import FeedbackCb

__all__ = ["CitizenDeps", "build_citizen_router"]

log = logging.getLogger("mcu.collectors.telegram")
ANSWER_LIMIT = 200  # Telegram's limit for callback answers
VERDICT_CODES = frozenset({"yes", "partial", "no"})


def _citizen_start(message: Message) -> bool:
    parts = (message.text or "").split(maxsplit=1)
    return len(parts) < 2 or not tp.looks_like_link_code(parts[1])


def _not_command(message: Message) -> bool:
    return not tp.is_command(message)


def build_citizen_router(deps: CitizenDeps) -> Router:
    """Citizen handlers: commands, buttons, group and channel posts, the report steps."""
    router = Router(name="mcu_citizen")
    router.include_router(_commands(deps))
    router.include_router(_callbacks(deps))
    router.include_router(_posts(deps))
    router.include_router(conversation_router(deps))
    return router


def _commands(deps: CitizenDeps) -> Router:
    router = Router(name="mcu_citizen_commands")
    router.message.filter(F.chat.type == "private")

    @router.message(CommandStart(), _citizen_start)
    async def start(message: Message, state: FSMContext) -> None:
        await reset(state, Report.text)
        await say(message, tp.GREETING, ReplyKeyboardRemove())

    @router.message(Command("cancel"))
    async def cancel(message: Message, state: FSMContext) -> None:
        await reset(state, None)
        await say(message, tp.CANCELLED, ReplyKeyboardRemove())

    @router.message(Command("status"))
    async def status(message: Message, command: CommandObject) -> None:
        number = (command.args or "").strip()
        if not number:
            await say(message, tp.STATUS_USAGE)
            return
        try:
            text = await call(deps.status, number, message.chat.id)
        except Refused as exc:
            text = str(exc)
        await say(message, tp.NOT_FOUND if text is None else html.escape(text))

    return router


def _callbacks(deps: CitizenDeps) -> Router:
    router = Router(name="mcu_citizen_callbacks")

    @router.callback_query(DraftCb.filter(F.action == "send"))
    async def send(query: CallbackQuery, state: FSMContext, bot: Bot) -> None:
        await confirm_draft(deps, query, state, bot)

    @router.callback_query(DraftCb.filter(F.action == "edit"))
    async def edit(query: CallbackQuery, state: FSMContext, bot: Bot) -> None:
        await edit_draft(query, state, bot)

    @router.callback_query(FeedbackCb.filter())
    async def verdict(
        query: CallbackQuery, callback_data: FeedbackCb, state: FSMContext, bot: Bot
    ) -> None:
        await _verdict(deps, query, callback_data, state, bot)

    return router


async def _verdict(
    deps: CitizenDeps, query: CallbackQuery, data: FeedbackCb, state: FSMContext, bot: Bot
) -> None:
    """Record Да / Частично / Нет; after «Нет» offer to say what is still wrong."""
    if data.verdict not in VERDICT_CODES:
        await query.answer(tp.STALE, show_alert=True)
        return
    chat_id = query.message.chat.id if query.message else query.from_user.id
    try:
        text = await call(deps.verdict, data.number, chat_id, data.verdict, None)
    except Refused as exc:
        await query.answer(str(exc)[:ANSWER_LIMIT], show_alert=True)
        return
    await query.answer(text[:ANSWER_LIMIT])
    await drop_buttons(bot, query)
    if data.verdict == "no":
        await reset(state, Report.comment, number=data.number)
        await bot.send_message(chat_id, tp.ASK_COMMENT, reply_markup=skip_keyboard())


def _posts(deps: CitizenDeps) -> Router:
    router = Router(name="mcu_citizen_posts")

    # Commands in groups fall through to the staff router, which explains itself.
    @router.message(F.chat.type.in_({"group", "supergroup"}), _not_command)
    async def group_message(message: Message) -> None:
        await _store_post(deps, message)

    @router.channel_post()
    async def channel_post(message: Message) -> None:
        await _store_post(deps, message)

    return router


async def _store_post(deps: CitizenDeps, message: Message) -> None:
    """Store a post silently: the bot never speaks in the groups and channels it reads."""
    if message.from_user is not None and message.from_user.is_bot:
        return
    raw = tp.post_raw(message, source=deps.source, secret=deps.secret)
    if raw is None:
        return
    try:
        await call(deps.store, raw)
    except Refused:
        log.warning("post %s not stored", raw.external_id)
