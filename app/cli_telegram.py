"""`mcu telegram …`: link staff chats by hand, unlink, send a test message, outbox state."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import typer
from rich.console import Console

from app.cli_errors import friendly
from config.errors import ConfigError
from core.errors import AppError, NotFoundError

console = Console()
telegram_app = typer.Typer(
    help="Telegram: привязка сотрудников, проверка доставки, очередь уведомлений.",
    no_args_is_help=True,
)


@telegram_app.command("link")
@friendly
def link(username: str, chat_id: int) -> None:
    """Привязать чат Telegram (CHAT_ID) к учётной записи без кода."""
    from alerts.linking import link_directly
    from app.context import build_context
    from core.db import session_scope

    ctx = build_context()
    with session_scope(ctx.engine) as session:
        user = link_directly(session, username=username, chat_id=chat_id, now=datetime.now(UTC))
        console.print(f"Чат {chat_id} привязан к {user.username} ({user.full_name or user.role}).")


@telegram_app.command("unlink")
@friendly
def unlink(username: str) -> None:
    """Отвязать Telegram от учётной записи (уведомления перестанут приходить)."""
    from alerts import linking
    from alerts.repository import user_by_username
    from app.context import build_context
    from core.db import session_scope

    ctx = build_context()
    with session_scope(ctx.engine) as session:
        user = user_by_username(session, username)
        if user is None:
            raise NotFoundError(f"нет пользователя {username!r}")
        done = linking.unlink(session, user=user)
    console.print(f"Telegram отвязан от {username}." if done else f"У {username} нет привязки.")


@telegram_app.command("send-test")
@friendly
def send_test(username: str) -> None:
    """Отправить пользователю проверочное сообщение (прямо, минуя очередь)."""
    from alerts import repository
    from alerts.format import format_test_message
    from app.context import build_context
    from core.db import session_scope

    ctx = build_context()
    token = ctx.settings.telegram_token
    if not token:
        raise ConfigError(file="MCU_TELEGRAM_TOKEN", field="telegram_token", problem="не задан")
    with session_scope(ctx.engine) as session:
        user = repository.user_by_username(session, username)
        if user is None:
            raise NotFoundError(f"нет пользователя {username!r}")
        chat_id = repository.recipients(session, user_ids=[user.id])[user.id].chat_id
        name = user.full_name or user.username
    if chat_id is None:
        raise NotFoundError(f"у {username} нет привязки Telegram")
    text = format_test_message(full_name=name, now=datetime.now(UTC), tz=ctx.tz)
    message_id = asyncio.run(_send(token, ctx.settings.telegram_api_base, chat_id, text))
    console.print(f"Отправлено в чат {chat_id} (сообщение {message_id}).")


async def _send(token: str, api_base: str, chat_id: int, text: str) -> int | None:
    """Send directly; Telegram's refusal becomes a clear AppError."""
    from alerts.base import NotifierError
    from alerts.telegram import TelegramNotifier

    async with TelegramNotifier.create(token, api_base) as notifier:
        try:
            return (await notifier.send(chat_id, text, ())).message_id
        except NotifierError as exc:
            raise AppError(f"Telegram не принял сообщение: {exc}") from exc


@telegram_app.command("status")
@friendly
def status() -> None:
    """Сколько уведомлений в каждом состоянии очереди."""
    from alerts.repository import status_counts
    from app.context import build_context
    from core.db import session_scope

    ctx = build_context()
    with session_scope(ctx.engine) as session:
        counts = status_counts(session)
    if not counts:
        console.print("Очередь уведомлений пуста.")
    for name, count in sorted(counts.items()):
        console.print(f"{name}: {count}")
