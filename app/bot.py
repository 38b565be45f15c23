"""The staff bot wired to the incident tracker: buttons act as the linked user."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from alerts.bot import BotDeps, build_dispatcher
from alerts.telegram import make_bot
from app.context import AppContext
from app.repository import owns_block
from core.db import session_factory, session_scope
from core.errors import NotFoundError, PermissionDeniedError
from core.models import Incident, User
from incidents import lifecycle, service

log = logging.getLogger("mcu.bot")
MANAGERS = ("admin", "coordinator", "operator")


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


def run_bot(ctx: AppContext) -> None:
    """Long-poll the Bot API until stopped (requires MCU_TELEGRAM_TOKEN)."""
    token = ctx.settings.telegram_token
    if not token:
        raise PermissionDeniedError("MCU_TELEGRAM_TOKEN не задан: бот не запущен")
    deps = BotDeps(
        sessions=session_factory(ctx.engine),
        on_accept=lambda uid, iid: accept(ctx, uid, iid),
        on_assign=lambda uid, iid, eid: assign_executor(ctx, uid, iid, eid),
    )

    async def main() -> None:
        bot = make_bot(token, ctx.settings.telegram_api_base)
        try:
            await build_dispatcher(deps).start_polling(bot, handle_signals=False)
        finally:
            await bot.session.close()

    asyncio.run(main())
