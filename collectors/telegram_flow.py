"""The citizen's report conversation: text → location → photo → address → confirm → stored.

Every step is optional after the text; «Пропустить» moves on. A refused input (too long, a
sticker, a voice message) leaves the draft as it was, so nothing already written is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aiogram import Bot, F, Router
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from collectors import telegram_posts as tp
from core.errors import AppError
from core.types import RawMessage

log = logging.getLogger("mcu.collectors.telegram")
T = TypeVar("T")
ReplyMarkup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove
SENT_KEPT = 20  # confirmed drafts remembered per chat, to answer a repeated «Отправить»


class Report(StatesGroup):
    """Steps of a citizen's report, then the optional comment after «Нет»."""

    text = State()
    location = State()
    photo = State()
    address = State()
    confirm = State()
    comment = State()


class DraftCb(CallbackData, prefix="cit"):
    """«Отправить» / «Изменить» under the summary: `cit:send` / `cit:edit`."""

    action: str


@dataclass(frozen=True)
class CitizenDeps:
    """Injected actions: store → tracking number, status text, verdict → thanks text."""

    store: Callable[[RawMessage], str]
    status: Callable[[str, int], str | None]
    verdict: Callable[[str, int, str, str | None], str]
    secret: str
    source: str = "telegram-bot"
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


class Refused(Exception):
    """An injected action failed; the text is what the citizen sees."""


async def call(action: Callable[..., T], *args: Any) -> T:
    """Run a blocking action off the event loop; failures become Refused."""
    try:
        return await asyncio.to_thread(action, *args)
    except AppError as exc:
        raise Refused(str(exc)) from exc
    except Exception as exc:  # the citizen gets a clear answer; the traceback goes to the log
        log.exception("citizen bot action %s failed", getattr(action, "__name__", action))
        raise Refused(tp.FAILED) from exc


async def say(message: Message, text: str, markup: ReplyMarkup | None = None) -> Message:
    """Reply in HTML whatever the bot's defaults (our texts escape what citizens wrote)."""
    return await message.answer(text, parse_mode=ParseMode.HTML, reply_markup=markup)


def skip_keyboard(*, location: bool = False) -> ReplyKeyboardMarkup:
    """«Пропустить», under a «send my location» button on the location step."""
    rows = [[KeyboardButton(text=tp.SKIP)]]
    if location:
        rows.insert(0, [KeyboardButton(text="📍 Отправить геопозицию", request_location=True)])
    return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, one_time_keyboard=True)


def confirm_keyboard() -> InlineKeyboardMarkup:
    """«Отправить» / «Изменить»."""
    send = InlineKeyboardButton(text="Отправить", callback_data=DraftCb(action="send").pack())
    edit = InlineKeyboardButton(text="Изменить", callback_data=DraftCb(action="edit").pack())
    return InlineKeyboardMarkup(inline_keyboard=[[send, edit]])


async def reset(state: FSMContext, to: State | None, **data: Any) -> None:
    """Start a new step sequence, keeping the memory of confirmed drafts."""
    sent = (await state.get_data()).get("sent", {})
    await state.set_state(to)
    await state.set_data({"sent": sent, **data})


async def drop_buttons(bot: Bot, query: CallbackQuery) -> None:
    """Remove the inline buttons a press used up (best effort: the message may be gone)."""
    if not isinstance(query.message, Message):
        return
    try:
        await bot.edit_message_reply_markup(
            chat_id=query.message.chat.id, message_id=query.message.message_id, reply_markup=None
        )
    except TelegramAPIError:
        log.info("could not remove buttons from message %s", query.message.message_id)


def is_skip(message: Message) -> bool:
    """The «Пропустить» button (or the word typed by hand)."""
    return (message.text or "").strip().casefold() == tp.SKIP.casefold()


def _not_command(message: Message) -> bool:
    return not tp.is_command(message)


async def _draft(state: FSMContext) -> tp.Draft:
    return tp.Draft.from_data(await state.get_data())


async def _save(state: FSMContext, draft: tp.Draft, to: State) -> None:
    await state.update_data(draft.to_data())
    await state.set_state(to)


def conversation_router(deps: CitizenDeps) -> Router:
    """Private-chat steps; commands are never taken as answers (they reach their handlers)."""
    router = Router(name="mcu_citizen_flow")
    router.message.filter(F.chat.type == "private", _not_command)
    router.message.register(_on_text, StateFilter(None, Report.text), F.text)
    router.message.register(_on_photo_first, StateFilter(None, Report.text), F.photo)
    router.message.register(_on_location, Report.location, F.location)
    router.message.register(_on_photo, Report.photo, F.photo)
    router.message.register(_on_extra_photo, StateFilter(Report.location, Report.address), F.photo)
    router.message.register(_on_address, Report.address, F.text)
    router.message.register(_on_confirm_text, Report.confirm)
    router.message.register(_comment_handler(deps), Report.comment, F.text)
    router.message.register(_on_other)
    return router


async def _on_text(message: Message, state: FSMContext) -> None:
    """The description (typing without /start begins a report too)."""
    text = (message.text or "").strip()
    if len(text) > tp.MAX_TEXT or is_skip(message) or not text:
        await say(message, tp.too_long(len(text)) if len(text) > tp.MAX_TEXT else tp.ASK_TEXT)
        return
    draft = await _draft(state) if await state.get_state() else tp.Draft()
    await _save(state, tp.Draft(text=text, photos=draft.photos), Report.location)
    await say(message, tp.ASK_LOCATION, skip_keyboard(location=True))


async def _on_photo_first(message: Message, state: FSMContext) -> None:
    """A photo before the text: its caption is the description, or the text is asked for."""
    draft = await _draft(state) if await state.get_state() else tp.Draft()
    photos = (*draft.photos, tp.largest_photo(message.photo) or "")[: tp.MAX_PHOTOS]
    caption = (message.caption or "").strip()
    if not caption or len(caption) > tp.MAX_TEXT:
        await _save(state, tp.Draft(photos=photos), Report.text)
        await say(message, tp.too_long(len(caption)) if caption else tp.ASK_TEXT)
        return
    await _save(state, tp.Draft(text=caption, photos=photos), Report.location)
    await say(message, tp.ASK_LOCATION, skip_keyboard(location=True))


async def _on_location(message: Message, state: FSMContext) -> None:
    assert message.location is not None  # guaranteed by the F.location filter
    point = (message.location.latitude, message.location.longitude)
    draft = await _draft(state)
    await _save(state, tp.Draft(draft.text, point, draft.photos, draft.place), Report.photo)
    await say(message, tp.ASK_PHOTO, skip_keyboard())


async def _on_photo(message: Message, state: FSMContext) -> None:
    await _add_photo(message, state)
    await state.set_state(Report.address)
    await say(message, tp.ASK_ADDRESS, skip_keyboard())


async def _on_extra_photo(message: Message, state: FSMContext) -> None:
    """Photos of an album arrive after the first moved the draft on: keep them quietly."""
    await _add_photo(message, state)


async def _add_photo(message: Message, state: FSMContext) -> None:
    draft = await _draft(state)
    ref = tp.largest_photo(message.photo)
    if ref and ref not in draft.photos and len(draft.photos) < tp.MAX_PHOTOS:
        await state.update_data(photos=[*draft.photos, ref])


async def _on_address(message: Message, state: FSMContext) -> None:
    place = (message.text or "").strip()
    if len(place) > tp.MAX_PLACE:
        await say(message, tp.TOO_LONG_PLACE)
        return
    draft = await _draft(state)
    if place and not is_skip(message):
        draft = tp.Draft(draft.text, draft.geo, draft.photos, place)
    await show_summary(message, state, draft)


async def show_summary(message: Message, state: FSMContext, draft: tp.Draft) -> None:
    """Send the summary with «Отправить» / «Изменить»; only that message may confirm."""
    sent = await say(message, tp.summary(draft), confirm_keyboard())
    await state.update_data(draft.to_data() | {"summary_id": sent.message_id})
    await state.set_state(Report.confirm)


async def _on_confirm_text(message: Message) -> None:
    await say(message, tp.ASK_CONFIRM)


async def _on_other(message: Message, state: FSMContext) -> None:
    """Skips, and what the current step cannot take: ask again, keep the draft."""
    current = await state.get_state()
    steps: dict[str | None, tuple[State, str, ReplyMarkup | None]] = {
        Report.location.state: (Report.photo, tp.ASK_PHOTO, skip_keyboard()),
        Report.photo.state: (Report.address, tp.ASK_ADDRESS, skip_keyboard()),
    }
    if is_skip(message) and current in steps:
        to, text, markup = steps[current]
        await state.set_state(to)
        await say(message, text, markup)
        return
    hints = {
        Report.location.state: tp.ASK_LOCATION,
        Report.photo.state: tp.ASK_PHOTO,
        Report.address.state: tp.ASK_ADDRESS,
        Report.comment.state: tp.ASK_COMMENT,
    }
    hint = hints.get(current, tp.ASK_TEXT)
    text_fits = message.text is not None and len(message.text) <= tp.MAX_TEXT
    await say(message, hint if text_fits else tp.refusal(message, hint=hint))


def _comment_handler(deps: CitizenDeps) -> Callable[[Message, FSMContext], Any]:
    async def on_comment(message: Message, state: FSMContext) -> None:
        """The comment after «Нет» (or «Пропустить»)."""
        if is_skip(message):
            await reset(state, None)
            await say(message, tp.THANKS, ReplyKeyboardRemove())
            return
        comment = (message.text or "").strip()
        if len(comment) > tp.MAX_TEXT:
            await say(message, tp.too_long(len(comment)))
            return
        number = str((await state.get_data()).get("number", ""))
        try:
            await call(deps.verdict, number, message.chat.id, "no", comment)
        except Refused as exc:
            await say(message, str(exc))
            return
        await reset(state, None)
        await say(message, tp.THANKS_COMMENT, ReplyKeyboardRemove())

    return on_comment


async def confirm_draft(
    deps: CitizenDeps, query: CallbackQuery, state: FSMContext, bot: Bot
) -> None:
    """«Отправить»: store once per summary message, reply with the tracking number."""
    summary = query.message
    if not isinstance(summary, Message):
        await query.answer(tp.STALE, show_alert=True)
        return
    data = await state.get_data()
    sent: dict[str, str] = dict(data.get("sent") or {})
    key = str(summary.message_id)
    if key in sent:  # a repeated press: same number, nothing stored again
        await query.answer()
        await say(summary, tp.already_sent(sent[key]))
        return
    if (
        await state.get_state() != Report.confirm.state
        or data.get("summary_id") != summary.message_id
    ):
        await query.answer(tp.STALE, show_alert=True)
        return
    raw = _raw(deps, query, summary, tp.Draft.from_data(data))
    try:
        number = await call(deps.store, raw)
    except Refused:
        await query.answer(tp.STORE_FAILED, show_alert=True)  # the draft stays: press again
        return
    sent = dict(list(sent.items())[-(SENT_KEPT - 1) :]) | {key: number}
    await state.set_state(None)
    await state.set_data({"sent": sent})
    await query.answer()
    await drop_buttons(bot, query)
    await say(summary, tp.accepted(number), ReplyKeyboardRemove())


def _raw(deps: CitizenDeps, query: CallbackQuery, summary: Message, draft: tp.Draft) -> RawMessage:
    return tp.citizen_raw(
        draft,
        source=deps.source,
        chat_id=summary.chat.id,
        message_id=summary.message_id,
        user_id=query.from_user.id,
        user_name=query.from_user.full_name,
        created_at=deps.clock(),
        secret=deps.secret,
    )


async def edit_draft(query: CallbackQuery, state: FSMContext, bot: Bot) -> None:
    """«Изменить»: start the description again."""
    summary = query.message
    data = await state.get_data()
    if not isinstance(summary, Message) or data.get("summary_id") != summary.message_id:
        await query.answer(tp.STALE, show_alert=True)
        return
    await query.answer()
    await drop_buttons(bot, query)
    await reset(state, Report.text)
    await say(summary, "Опишите проблему заново. " + tp.ASK_TEXT, ReplyKeyboardRemove())
