"""Telegram buttons act as the linked user, with the web's authorization, and are audited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import bot, pipeline
from app.context import AppContext
from app.demo import ensure_demo_users
from collectors.repository import ensure_source, store_messages
from core.errors import PermissionDeniedError
from core.models import Incident, IncidentEvent, User
from core.types import RawMessage

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)


@pytest.fixture
def incident(app_ctx: AppContext, seeded_session: Session) -> Incident:
    ensure_demo_users(seeded_session)
    source = ensure_source(seeded_session, name="tg", kind="telegram")
    text = "В Амурзете на ул. Советской третий день нет горячей воды в доме 12"
    store_messages(
        seeded_session,
        source=source,
        now=NOW,
        messages=[RawMessage(source="tg", external_id="1", text=text, created_at=NOW)],
    )
    pipeline.process_pending(app_ctx, seeded_session, NOW)
    seeded_session.commit()
    found = seeded_session.scalar(select(Incident))
    assert found is not None and found.block_code == "housing"
    return found


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None
    return user


def test_executor_of_the_department_accepts(
    app_ctx: AppContext, seeded_session: Session, incident: Incident
) -> None:
    executor = _user(seeded_session, "executor_gkh")
    reply = bot.accept(app_ctx, executor.id, incident.id)
    seeded_session.expire_all()
    taken = seeded_session.get(Incident, incident.id)
    assert taken is not None and taken.status == "in_progress" and taken.executor_id == executor.id
    assert incident.number in reply
    actors = seeded_session.scalars(
        select(IncidentEvent.actor_id).where(IncidentEvent.incident_id == incident.id)
    ).all()
    assert executor.id in actors


def test_executor_of_another_department_is_refused(
    app_ctx: AppContext, seeded_session: Session, incident: Incident
) -> None:
    stranger = _user(seeded_session, "executor_education")
    with pytest.raises(PermissionDeniedError):
        bot.accept(app_ctx, stranger.id, incident.id)


def test_sector_head_assigns_only_in_own_blocks(
    app_ctx: AppContext, seeded_session: Session, incident: Incident
) -> None:
    executor = _user(seeded_session, "executor_gkh")
    social_head = _user(seeded_session, "sector_social")
    with pytest.raises(PermissionDeniedError):
        bot.assign_executor(app_ctx, social_head.id, incident.id, executor.id)
    econ_head = _user(seeded_session, "sector_econ")
    reply = bot.assign_executor(app_ctx, econ_head.id, incident.id, executor.id)
    seeded_session.expire_all()
    assigned = seeded_session.get(Incident, incident.id)
    assert assigned is not None and assigned.executor_id == executor.id
    assert "Исполнитель" in reply or "исполнитель" in reply
