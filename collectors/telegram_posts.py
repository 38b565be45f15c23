"""Pure parts of the Telegram collector: the citizen's draft, texts, and updates as RawMessage."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiogram.types import Message, PhotoSize

from collectors.base import pseudonymize
from core.types import Geo, RawMessage

KIND = "telegram"
MAX_TEXT = 4000  # a little under Telegram's own 4096, so our refusal is what people see
MAX_PLACE = 500  # messages.place_text is String(500)
MAX_PHOTOS = 5
SKIP = "Пропустить"
# Staff link codes are secrets.token_urlsafe(16): 22 URL-safe characters (alerts/linking.py).
_LINK_CODE = re.compile(r"[A-Za-z0-9_-]{16,64}")

GREETING = (
    "Здравствуйте! Это бот Центра управления муниципальным образованием.\n"
    "Опишите проблему одним сообщением: что случилось и где."
)
ASK_TEXT = "Опишите проблему текстом: что случилось и где."
ASK_LOCATION = "Отправьте геопозицию места (скрепка → «Геопозиция») или нажмите «Пропустить»."
ASK_PHOTO = "Прикрепите фото проблемы или нажмите «Пропустить»."
ASK_ADDRESS = "Напишите адрес или ориентир (населённый пункт, улица, дом) или нажмите «Пропустить»."
ASK_CONFIRM = "Проверьте обращение и нажмите «Отправить» или «Изменить»."
ASK_COMMENT = "Жаль. Напишите, что осталось не так (или нажмите «Пропустить»)."
CANCELLED = "Обращение отменено. Чтобы начать заново, отправьте /start."
STALE = "Кнопка устарела."
STORE_FAILED = "Не удалось сохранить обращение. Попробуйте нажать «Отправить» ещё раз."
FAILED = "Не удалось выполнить действие. Попробуйте позже."
NOT_FOUND = (
    "Обращение с таким номером не найдено среди ваших обращений. Проверьте номер, "
    "например: /status П-000123"
)
STATUS_USAGE = "Укажите номер обращения, например: /status П-000123"
TOO_LONG_PLACE = f"Адрес слишком длинный: не больше {MAX_PLACE} символов."
THANKS_COMMENT = "Спасибо! Комментарий передан исполнителям."
THANKS = "Спасибо!"


def looks_like_link_code(payload: str) -> bool:
    """Whether a /start payload is a staff link code (the staff router handles those)."""
    return bool(_LINK_CODE.fullmatch(payload.strip()))


def is_command(message: Message) -> bool:
    """A bot command such as /status or /stop."""
    return (message.text or "").startswith("/")


def too_long(length: int) -> str:
    """Refusal for a text over MAX_TEXT characters."""
    return (
        f"Сообщение слишком длинное ({length} символов). Сократите его до {MAX_TEXT} символов "
        "и отправьте ещё раз — написанное ранее сохранено."
    )


def refusal(message: Message, *, hint: str = ASK_TEXT) -> str:
    """A polite answer to content the bot cannot take (stickers, voice, video...), then `hint`."""
    if message.text and len(message.text) > MAX_TEXT:
        return too_long(len(message.text))
    if message.sticker is not None:
        return "Стикеры бот не понимает. " + hint
    if message.voice is not None or message.video_note is not None or message.audio is not None:
        return "Голосовые и видеосообщения бот пока не принимает. " + hint
    return "Такое сообщение бот не может принять. " + hint


def largest_photo(sizes: Sequence[PhotoSize] | None) -> str | None:
    """`tg-file:{file_id}` of the largest size; the file itself is fetched later, if at all."""
    if not sizes:
        return None
    best = max(sizes, key=lambda s: (s.width * s.height, s.file_size or 0))
    return f"tg-file:{best.file_id}"


@dataclass(frozen=True, slots=True)
class Draft:
    """What the citizen has told the bot so far (kept in the FSM storage as a dict)."""

    text: str = ""
    geo: tuple[float, float] | None = None
    photos: tuple[str, ...] = ()
    place: str | None = None

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Draft:
        """Rebuild from FSM data (lists come back where tuples went in)."""
        geo = data.get("geo")
        return cls(
            text=str(data.get("text") or ""),
            geo=(float(geo[0]), float(geo[1])) if geo else None,
            photos=tuple(data.get("photos") or ()),
            place=data.get("place"),
        )

    def to_data(self) -> dict[str, Any]:
        """The FSM data for this draft."""
        return {
            "text": self.text,
            "geo": list(self.geo) if self.geo else None,
            "photos": list(self.photos),
            "place": self.place,
        }


def summary(draft: Draft) -> str:
    """The confirmation text (HTML: everything the citizen wrote is escaped)."""
    lines = ["<b>Ваше обращение</b>", html.escape(draft.text)]
    if draft.geo:
        lines.append(f"Геопозиция: {draft.geo[0]:.5f}, {draft.geo[1]:.5f}")
    if draft.photos:
        lines.append(f"Фото: {len(draft.photos)}")
    if draft.place:
        lines.append(f"Адрес: {html.escape(draft.place)}")
    return "\n".join([*lines, "", ASK_CONFIRM])


def accepted(number: str) -> str:
    """The reply once the message is stored."""
    return (
        f"Обращение принято. Номер: <b>{html.escape(number)}</b>\n"
        f"Узнать, что с ним, можно командой /status {html.escape(number)}\n"
        "Когда появится ответ, бот пришлёт его сюда."
    )


def already_sent(number: str) -> str:
    """The reply to a repeated «Отправить»."""
    return f"Это обращение уже отправлено. Номер: <b>{html.escape(number)}</b>"


def citizen_raw(
    draft: Draft,
    *,
    source: str,
    chat_id: int,
    message_id: int,
    user_id: int,
    user_name: str | None,
    created_at: datetime,
    secret: str,
) -> RawMessage:
    """The stored form of a confirmed draft; the confirming message keys it (repeats are no-ops)."""
    return RawMessage(
        source=source,
        external_id=f"{chat_id}:{message_id}",
        text=draft.text,
        created_at=created_at,
        author_id=pseudonymize(kind=KIND, account_id=str(user_id), secret=secret),
        author_name=user_name or None,
        attachments=draft.photos,
        geo=Geo(*draft.geo) if draft.geo else None,
        place_text=draft.place,
        # The only way back to the citizen: status updates and answers are sent to this chat.
        contact=f"tg:{chat_id}",
        extra={"channel": "telegram-bot"},
    )


def _post_author(message: Message) -> tuple[int, str | None]:
    """Who wrote a group message or channel post: the user, or the chat posting as itself."""
    if message.from_user is not None and message.sender_chat is None:
        return message.from_user.id, message.from_user.full_name
    sender = message.sender_chat or message.chat
    return sender.id, sender.title or sender.username


def post_raw(message: Message, *, source: str, secret: str) -> RawMessage | None:
    """A group message or channel post as RawMessage; None when there is nothing to read."""
    text = (message.text or message.caption or "").strip()
    # Auto-forwards repeat a channel post in its discussion group: the post is stored already.
    if not text or message.is_automatic_forward:
        return None
    chat = message.chat
    author, name = _post_author(message)
    reply = message.reply_to_message
    photo = largest_photo(message.photo)
    return RawMessage(
        source=source,
        external_id=f"tgchat-{chat.id}_{message.message_id}",
        text=text,
        created_at=message.date,
        author_id=pseudonymize(kind=KIND, account_id=str(author), secret=secret),
        author_name=name,
        url=f"https://t.me/{chat.username}/{message.message_id}" if chat.username else None,
        reply_to=f"tgchat-{chat.id}_{reply.message_id}" if reply else None,
        attachments=(photo,) if photo else (),
        extra={"chat_type": chat.type, "chat_title": chat.title},
    )
