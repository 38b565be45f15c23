"""The Notifier protocol the outbox delivers through, and the errors every notifier maps to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button: either a callback (`data`) or a link (`url`)."""

    text: str
    data: str | None = None
    url: str | None = None


# Rows of buttons, as Telegram lays them out.
Keyboard = Sequence[Sequence[Button]]


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the messenger answered to an accepted message."""

    message_id: int | None = None


class NotifierError(Exception):
    """Base of the errors a notifier raises; the outbox decides what each one means."""


class RetryAfter(NotifierError):
    """Flood control: the messenger asks to wait `seconds` before the next message."""

    def __init__(self, seconds: float, message: str = "") -> None:
        super().__init__(message or f"retry after {seconds} s")
        self.seconds = float(seconds)


class Forbidden(NotifierError):
    """The user blocked the bot (or the chat is gone): sending again is pointless."""


class TransientError(NotifierError):
    """Anything else (network, 5xx, malformed request): retry later with backoff."""


class Notifier(Protocol):
    """Something that delivers a text message with buttons, or a file, to one chat."""

    async def send(self, chat_id: int, text: str, buttons: Keyboard) -> SendResult:
        """Send, or raise RetryAfter / Forbidden / TransientError."""
        ...

    async def send_document(
        self, chat_id: int, *, data: bytes, filename: str, caption: str
    ) -> SendResult:
        """Send a file with a short caption; the same errors as `send`."""
        ...
