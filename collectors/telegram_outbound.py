"""Messages the bot sends to a citizen on its own: status updates and «Проблема решена?»."""

from __future__ import annotations

import html

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions

VERDICTS = (("Да", "yes"), ("Частично", "partial"), ("Нет", "no"))
ANSWER_LIMIT = 3500  # leaves room for the header within Telegram's 4096 characters
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class FeedbackCb(CallbackData, prefix="fb"):
    """A verdict button: `fb:{number}:{yes|partial|no}`."""

    number: str
    verdict: str


def feedback_keyboard(number: str) -> InlineKeyboardMarkup:
    """Да / Частично / Нет in one row."""
    buttons = [
        InlineKeyboardButton(text=text, callback_data=FeedbackCb(number=number, verdict=v).pack())
        for text, v in VERDICTS
    ]
    return InlineKeyboardMarkup(inline_keyboard=[buttons])


def status_update_text(*, number: str, status_text: str, answer_text: str | None) -> str:
    """HTML of a status update; the answer is cut so the message always fits."""
    lines = [f"Обращение <b>{html.escape(number)}</b>: {html.escape(status_text)}"]
    if answer_text:
        body = answer_text.strip()
        if len(body) > ANSWER_LIMIT:
            body = body[:ANSWER_LIMIT].rstrip() + "…"
        lines += ["", "<b>Ответ:</b>", html.escape(body)]
    return "\n".join(lines)


async def send_status_update(
    bot: Bot, *, chat_id: int, number: str, status_text: str, answer_text: str | None
) -> int:
    """Tell the citizen what happened to their message; return the sent message id."""
    message = await bot.send_message(
        chat_id=chat_id,
        text=status_update_text(number=number, status_text=status_text, answer_text=answer_text),
        parse_mode=ParseMode.HTML,
        link_preview_options=NO_PREVIEW,
    )
    return message.message_id


async def ask_solved(bot: Bot, *, chat_id: int, number: str) -> int:
    """Ask «Проблема решена?» with Да / Частично / Нет; return the sent message id."""
    message = await bot.send_message(
        chat_id=chat_id,
        text=f"Обращение <b>{html.escape(number)}</b>. Проблема решена?",
        parse_mode=ParseMode.HTML,
        reply_markup=feedback_keyboard(number),
    )
    return message.message_id
