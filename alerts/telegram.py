"""The aiogram 3 Notifier: one Bot on a configurable Bot API server, errors mapped to ours."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    AiogramError,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
)
from aiohttp import ClientError

from alerts.base import Forbidden, Keyboard, RetryAfter, SendResult, TransientError
from alerts.format import PARSE_MODE

DEFAULT_API_BASE = "https://api.telegram.org"
REQUEST_TIMEOUT = 30
# The link would preview the МЦУ login page: noise in a compact alert.
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


def make_bot(token: str, api_base: str = DEFAULT_API_BASE) -> Bot:
    """A Bot talking HTML to `api_base` (the real Bot API, a local server or a test fake)."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base), timeout=REQUEST_TIMEOUT)
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=PARSE_MODE))


def to_markup(buttons: Keyboard) -> InlineKeyboardMarkup | None:
    """Our buttons as an aiogram inline keyboard (None when there are none)."""
    rows = [
        [InlineKeyboardButton(text=b.text, callback_data=b.data, url=b.url) for b in row]
        for row in buttons
        if row
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


@contextmanager
def mapped_errors() -> Iterator[None]:
    """aiogram and network errors as RetryAfter, Forbidden or TransientError."""
    try:
        yield
    except TelegramRetryAfter as exc:
        raise RetryAfter(exc.retry_after, exc.message) from exc
    except TelegramForbiddenError as exc:
        raise Forbidden(exc.message) from exc
    except (TimeoutError, AiogramError, ClientError, OSError) as exc:
        raise TransientError(f"{type(exc).__name__}: {exc}") from exc


class TelegramNotifier:
    """Notifier over aiogram; use `async with` (or `close()`) so the HTTP session is closed."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    @classmethod
    def create(cls, token: str, api_base: str = DEFAULT_API_BASE) -> TelegramNotifier:
        """A notifier with its own Bot."""
        return cls(make_bot(token, api_base))

    async def send(self, chat_id: int, text: str, buttons: Keyboard) -> SendResult:
        """Send one HTML message; raise RetryAfter, Forbidden or TransientError."""
        with mapped_errors():
            message = await self.bot.send_message(
                chat_id=chat_id,
                text=text,
                reply_markup=to_markup(buttons),
                link_preview_options=NO_PREVIEW,
            )
        return SendResult(message_id=message.message_id)

    async def send_document(
        self, chat_id: int, *, data: bytes, filename: str, caption: str
    ) -> SendResult:
        """Send a file (multipart upload) with an HTML caption; errors as in `send`."""
        with mapped_errors():
            message = await self.bot.send_document(
                chat_id=chat_id,
                document=BufferedInputFile(data, filename=filename),
                caption=caption,
            )
        return SendResult(message_id=message.message_id)

    async def close(self) -> None:
        """Close the HTTP session."""
        await self.bot.session.close()

    async def __aenter__(self) -> TelegramNotifier:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
