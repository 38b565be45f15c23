"""The staff bot wired to the incident tracker: buttons act as the linked user."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.storage.memory import MemoryStorage
from aiohttp import ClientError
from sqlalchemy.orm import Session

from alerts.bot import BotDeps, build_router
from alerts.telegram import make_bot
from app import repository as app_repo
from app.context import AppContext
from app.repository import owns_block
from collectors import repository as collectors_repo
from collectors.portal import parse_tracking_number, tracking_number
from collectors.telegram import CitizenDeps, build_citizen_router
from collectors.telegram_outbound import ANSWER_LIMIT, ask_solved, send_status_update
from core.db import session_factory, session_scope
from core.errors import ConflictError, NotFoundError, PermissionDeniedError
from core.models import Answer, Incident, Message, User
from core.types import RawMessage
from incidents import audit, lifecycle, service
from incidents import repository as incidents_repo

log = logging.getLogger("mcu.bot")
MANAGERS = ("admin", "coordinator", "operator")
SOURCE_NAME = "telegram-bot"  # citizens' reports and the posts of groups the bot reads
CHANNEL = "telegram"
THANKS = {
    "yes": "Спасибо! Рады, что проблема решена.",
    "partial": "Спасибо! Передадим исполнителям, что проблема решена не полностью.",
    "no": "Спасибо! Передадим исполнителям, что проблема не решена.",
}
THANKS_COMMENT = "Спасибо! Комментарий передан исполнителям."
Send = Callable[[Bot, int, str], Awaitable[None]]


def _load(session: Session, user_id: int, incident_id: int) -> tuple[User, Incident]:
    user, incident = session.get(User, user_id), session.get(Incident, incident_id)
    if user is None or not user.active:
        raise PermissionDeniedError("учётная запись не найдена или отключена")
    if incident is None:
        raise NotFoundError(f"инцидент {incident_id} не найден")
    return user, incident


def may_manage(session: Session, user: User, incident: Incident) -> bool:
    """Operators, the coordinator, admins and the block's sector heads may assign."""
    if user.role in MANAGERS:
        return True
    return user.role == "sector_head" and owns_block(
        session, user_id=user.id, block=incident.block_code
    )


def may_accept(session: Session, user: User, incident: Incident) -> bool:
    """Managers, and an executor of the incident's department."""
    if may_manage(session, user, incident):
        return True
    return user.role == "executor" and user.department_id == incident.department_id


def accept(ctx: AppContext, user_id: int, incident_id: int) -> str:
    """«Принять»: the incident goes into work (an executor takes it personally)."""
    now = datetime.now(UTC)
    with session_scope(ctx.engine) as session:
        user, incident = _load(session, user_id, incident_id)
        if not may_accept(session, user, incident):
            raise PermissionDeniedError("этот инцидент не в вашей зоне ответственности")
        if user.role == "executor" and incident.executor_id is None:
            service.assign(
                session,
                incident=incident,
                department_id=user.department_id or 0,
                executor_id=user.id,
                actor=user,
                now=now,
            )
        if lifecycle.can_transition(incident.status, "in_progress"):
            service.change_status(
                session,
                incident=incident,
                to_status="in_progress",
                actor=user,
                now=now,
                calendar=ctx.calendar,
            )
        return f"Инцидент {incident.number} принят в работу"


def assign_executor(ctx: AppContext, user_id: int, incident_id: int, executor_id: int) -> str:
    """«Назначить исполнителя»: give the incident to a person of a department."""
    now = datetime.now(UTC)
    with session_scope(ctx.engine) as session:
        user, incident = _load(session, user_id, incident_id)
        executor = session.get(User, executor_id)
        if not may_manage(session, user, incident):
            raise PermissionDeniedError(
                "назначать исполнителя может руководитель блока или оператор"
            )
        if executor is None or executor.role != "executor" or executor.department_id is None:
            raise NotFoundError("исполнитель не найден")
        service.assign(
            session,
            incident=incident,
            department_id=executor.department_id,
            executor_id=executor.id,
            actor=user,
            now=now,
        )
        return f"Инцидент {incident.number}: исполнитель {executor.full_name or executor.username}"


def _ensure_source(session: Session) -> int:
    return collectors_repo.ensure_source(session, name=SOURCE_NAME, kind=CHANNEL).id


def store_citizen_message(ctx: AppContext, raw: RawMessage) -> str:
    """Store a bot message once per external id; its tracking number (also for a repeat)."""
    now = datetime.now(UTC)
    with session_scope(ctx.engine) as session:
        source = collectors_repo.ensure_source(session, name=raw.source, kind=CHANNEL)
        stored, _ = collectors_repo.store_messages(session, source=source, messages=[raw], now=now)
        collectors_repo.record_success(
            session, source=source, cursor=source.cursor, fetched=1, stored=stored, now=now
        )
        message_id = app_repo.message_id_by_external(
            session, source_id=source.id, external_id=raw.external_id[:200]
        )
        if message_id is None:  # cannot happen after the insert, unless the row was deleted
            raise ConflictError("Сообщение не сохранено")
        return tracking_number(message_id)


def own_message(session: Session, *, number: str, chat_id: int) -> Message | None:
    """The chat's own bot message by tracking (П-…) or incident (МЦУ-…) number."""
    contact = f"tg:{chat_id}"
    message_id = parse_tracking_number(number)
    if message_id is not None:
        message = app_repo.source_message(session, message_id=message_id, source_name=SOURCE_NAME)
        return message if message is not None and message.contact == contact else None
    incident = app_repo.incident_by_number(session, number=number.strip().upper())
    if incident is None:
        return None
    mine = app_repo.contact_messages(
        session, incident_id=incident.id, source_name=SOURCE_NAME, contact=contact
    )
    return mine[0] if mine else None


def _status_text(session: Session, message: Message) -> str:
    own = tracking_number(message.id)
    incident = session.get(Incident, message.incident_id) if message.incident_id else None
    if incident is None:
        return f"Обращение {own} принято и ожидает регистрации."
    lines = [
        f"Обращение {own} зарегистрировано под номером {incident.number}.",
        f"Статус: {lifecycle.label(incident.status)}.",
    ]
    answer = app_repo.latest_published_answer(session, incident_id=incident.id)
    if answer is not None:
        text = answer.text if len(answer.text) <= ANSWER_LIMIT else answer.text[:ANSWER_LIMIT] + "…"
        lines += ["", f"Ответ: {text}"]
    return "\n".join(lines)


def citizen_status(ctx: AppContext, number: str, chat_id: int) -> str | None:
    """Status text of the chat's own message; None for unknown numbers and other people's."""
    with session_scope(ctx.engine) as session:
        message = own_message(session, number=number, chat_id=chat_id)
        return None if message is None else _status_text(session, message)


def _add_comment(session: Session, *, incident: Incident, comment: str, now: datetime) -> bool:
    """A comment after «Нет» completes that verdict instead of counting a second one."""
    latest = app_repo.latest_feedback(session, incident_id=incident.id)
    if latest is None or latest.verdict != "no" or latest.channel != CHANNEL or latest.comment:
        return False
    latest.comment = comment
    audit.record(
        session,
        incident=incident,
        action="feedback_comment",
        actor=None,
        at=now,
        reason=comment,
        payload={"feedback_id": latest.id, "channel": CHANNEL},
    )
    return True


def _repeated(session: Session, *, incident: Incident, verdict: str) -> bool:
    """The same button pressed again, with no new answer published in between."""
    latest = app_repo.latest_feedback(session, incident_id=incident.id)
    if latest is None or latest.verdict != verdict or latest.channel != CHANNEL:
        return False
    answer = app_repo.latest_published_answer(session, incident_id=incident.id)
    return answer is None or answer.published_at is None or answer.published_at <= latest.created_at


def citizen_verdict(
    ctx: AppContext, number: str, chat_id: int, verdict: str, comment: str | None
) -> str:
    """Record the citizen's Да / Частично / Нет (a «Нет» reopens the incident)."""
    now = datetime.now(UTC)
    with session_scope(ctx.engine) as session:
        message = own_message(session, number=number, chat_id=chat_id)
        if message is None:
            raise NotFoundError("Обращение не найдено среди ваших обращений.")
        if message.incident_id is None:
            raise ConflictError("Обращение ещё не зарегистрировано: оценить решение пока нельзя.")
        incident = incidents_repo.get_incident(
            session, incident_id=message.incident_id, for_update=True
        )
        if comment and _add_comment(session, incident=incident, comment=comment, now=now):
            return THANKS_COMMENT
        if not _repeated(session, incident=incident, verdict=verdict):
            service.record_feedback(
                session,
                incident=incident,
                verdict=verdict,
                comment=comment,
                channel=CHANNEL,
                now=now,
                calendar=ctx.calendar,
            )
        return THANKS_COMMENT if comment else THANKS.get(verdict, THANKS["partial"])


def citizen_deps(ctx: AppContext) -> CitizenDeps:
    """The citizen router's actions on the database."""
    return CitizenDeps(
        store=lambda raw: store_citizen_message(ctx, raw),
        status=lambda number, chat: citizen_status(ctx, number, chat),
        verdict=lambda number, chat, verdict, comment: citizen_verdict(
            ctx, number, chat, verdict, comment
        ),
        secret=ctx.settings.secret_key,
        source=SOURCE_NAME,
    )


def staff_deps(ctx: AppContext) -> BotDeps:
    """The staff router's actions on the database."""
    return BotDeps(
        sessions=session_factory(ctx.engine),
        on_accept=lambda uid, iid: accept(ctx, uid, iid),
        on_assign=lambda uid, iid, eid: assign_executor(ctx, uid, iid, eid),
    )


def build_bot_dispatcher(
    ctx: AppContext, *, staff: BotDeps | None = None, citizen: CitizenDeps | None = None
) -> Dispatcher:
    """One dispatcher for both sides; citizens first, since the staff router catches all /start."""
    # In-memory FSM: an unfinished report is forgotten on restart (stored ones are not).
    dispatcher = Dispatcher(storage=MemoryStorage())
    dispatcher.include_router(build_citizen_router(citizen or citizen_deps(ctx)))
    dispatcher.include_router(build_router(staff or staff_deps(ctx)))
    return dispatcher


def _targets(session: Session, *, incident_id: int) -> list[tuple[int, str]]:
    """(chat id, tracking number) per citizen chat of an incident, first message per chat."""
    seen: dict[int, str] = {}
    for message in app_repo.contact_messages(
        session, incident_id=incident_id, source_name=SOURCE_NAME
    ):
        contact = message.contact or ""
        if contact.startswith("tg:") and contact[3:].lstrip("-").isdigit():
            seen.setdefault(int(contact[3:]), tracking_number(message.id))
    return list(seen.items())


def _fan_out(ctx: AppContext, targets: list[tuple[int, str]], send: Send) -> int:
    """Send to each chat with a fresh Bot; count the chats reached (sync: for jobs)."""
    token = ctx.settings.telegram_token
    if not token or not targets:
        return 0

    async def main() -> int:
        bot, reached = make_bot(token, ctx.settings.telegram_api_base), 0
        try:
            for chat_id, number in targets:
                try:
                    await send(bot, chat_id, number)
                    reached += 1
                except (TelegramAPIError, ClientError, TimeoutError) as exc:
                    log.warning("telegram chat %s not reached: %s", chat_id, exc)
        finally:
            await bot.session.close()
        return reached

    return asyncio.run(main())


def publish_answer_telegram(
    ctx: AppContext, session: Session, *, answer: Answer, ask_feedback: bool | None = None
) -> bool:
    """Send an answer to every bot chat of its incident (a final one also asks «решена?»).

    Sync, for jobs (it runs its own event loop); True when at least one chat got it.
    """
    incident = session.get(Incident, answer.incident_id)
    if incident is None:
        return False
    ask = answer.kind == "final" if ask_feedback is None else ask_feedback
    status = f"статус «{lifecycle.label(incident.status)}»"

    async def send(bot: Bot, chat_id: int, number: str) -> None:
        await send_status_update(
            bot, chat_id=chat_id, number=number, status_text=status, answer_text=answer.text
        )
        if ask:
            await ask_solved(bot, chat_id=chat_id, number=number)

    return _fan_out(ctx, _targets(session, incident_id=incident.id), send) > 0


def ask_feedback_telegram(ctx: AppContext, session: Session, *, incident: Incident) -> int:
    """Ask «Проблема решена?» in every bot chat of the incident; the number of chats reached."""

    async def send(bot: Bot, chat_id: int, number: str) -> None:
        await ask_solved(bot, chat_id=chat_id, number=number)

    return _fan_out(ctx, _targets(session, incident_id=incident.id), send)


def run_bot(ctx: AppContext) -> None:
    """Long-poll the Bot API for staff and citizens until stopped (needs MCU_TELEGRAM_TOKEN)."""
    token = ctx.settings.telegram_token
    if not token:
        raise PermissionDeniedError("MCU_TELEGRAM_TOKEN не задан: бот не запущен")
    with session_scope(ctx.engine) as session:
        _ensure_source(session)  # up front, so concurrent first messages never race to create it
    dispatcher = build_bot_dispatcher(ctx)

    async def main() -> None:
        bot = make_bot(token, ctx.settings.telegram_api_base)
        try:
            await dispatcher.start_polling(bot, handle_signals=False)
        finally:
            await bot.session.close()

    asyncio.run(main())
