"""SQL of the composition root (demo, bot, classifier training, weekly job)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import (
    Answer,
    CalendarDay,
    CitizenFeedback,
    Department,
    Incident,
    Message,
    Source,
    TrainingExample,
    User,
    UserBlock,
)


def users_with_role(session: Session, *, role: str) -> list[User]:
    """Active users of one role."""
    stmt = select(User).where(User.role == role, User.active.is_(True)).order_by(User.id)
    return list(session.scalars(stmt))


def owns_block(session: Session, *, user_id: int, block: str) -> bool:
    """Whether the user heads this block."""
    stmt = select(UserBlock).where(UserBlock.user_id == user_id, UserBlock.block_code == block)
    return session.scalar(stmt) is not None


def operator_examples(session: Session) -> list[tuple[str, str]]:
    """Every block correction operators made, as (text, block) pairs."""
    rows = session.execute(select(TrainingExample.text, TrainingExample.block_code)).all()
    return [(text, block) for text, block in rows]


def oldest_new_messages(session: Session, *, limit: int) -> list[Message]:
    """Unprocessed messages in the order they were received (the demo history replays them)."""
    stmt = (
        select(Message)
        .where(Message.status == "new")
        .order_by(Message.received_at, Message.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def departments_by_id(session: Session) -> dict[int, Department]:
    """All departments keyed by id."""
    return {d.id: d for d in session.scalars(select(Department))}


def executors_by_department(session: Session) -> dict[int | None, User]:
    """One executor per department (the last created wins)."""
    return {u.department_id: u for u in users_with_role(session, role="executor")}


def assigned_incidents(session: Session) -> list[Incident]:
    """Incidents waiting for their department, oldest first."""
    stmt = select(Incident).where(Incident.status == "assigned").order_by(Incident.received_at)
    return list(session.scalars(stmt))


def usernames(session: Session) -> set[str]:
    """Every login in use."""
    return set(session.scalars(select(User.username)))


def departments(session: Session) -> list[Department]:
    """Departments in the order they were created."""
    return list(session.scalars(select(Department).order_by(Department.id)))


def department_id(session: Session, *, code: str) -> int | None:
    """The id of the department with this code."""
    return session.scalar(select(Department.id).where(Department.code == code))


def incident_count(session: Session) -> int:
    """All incidents."""
    return session.scalar(select(func.count(Incident.id))) or 0


# --- Citizen side of the Telegram bot (app/bot.py) ---


def message_id_by_external(session: Session, *, source_id: int, external_id: str) -> int | None:
    """The id of a stored message by its source key."""
    stmt = select(Message.id).where(
        Message.source_id == source_id, Message.external_id == external_id
    )
    return session.scalar(stmt)


def source_message(session: Session, *, message_id: int, source_name: str) -> Message | None:
    """A message by id, only if it came from the named source."""
    stmt = (
        select(Message)
        .join(Source, Source.id == Message.source_id)
        .where(Message.id == message_id, Source.name == source_name)
    )
    return session.scalar(stmt)


def incident_by_number(session: Session, *, number: str) -> Incident | None:
    """The incident with this public number (МЦУ-2026-000123)."""
    return session.scalar(select(Incident).where(Incident.number == number))


def contact_messages(
    session: Session, *, incident_id: int, source_name: str, contact: str | None = None
) -> list[Message]:
    """Messages of an incident from the named source that carry a contact, oldest first."""
    stmt = (
        select(Message)
        .join(Source, Source.id == Message.source_id)
        .where(
            Message.incident_id == incident_id,
            Source.name == source_name,
            Message.contact.is_not(None),
        )
        .order_by(Message.id)
    )
    if contact is not None:
        stmt = stmt.where(Message.contact == contact)
    return list(session.scalars(stmt))


def latest_published_answer(session: Session, *, incident_id: int) -> Answer | None:
    """The last answer of an incident that was published to the citizen."""
    stmt = (
        select(Answer)
        .where(Answer.incident_id == incident_id, Answer.published_at.is_not(None))
        .order_by(Answer.published_at.desc(), Answer.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)


def latest_feedback(session: Session, *, incident_id: int) -> CitizenFeedback | None:
    """The citizen's most recent verdict on an incident."""
    stmt = (
        select(CitizenFeedback)
        .where(CitizenFeedback.incident_id == incident_id)
        .order_by(CitizenFeedback.created_at.desc(), CitizenFeedback.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)


def undelivered_answers(session: Session, *, limit: int) -> list[Answer]:
    """Answers a person published that have not reached the citizen's channels, oldest first."""
    stmt = (
        select(Answer)
        .where(Answer.published_at.is_not(None), Answer.delivered_at.is_(None))
        .order_by(Answer.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))


def incident_messages_with_sources(
    session: Session, *, incident_id: int
) -> list[tuple[Message, Source]]:
    """Every message of an incident with the source it came from."""
    stmt = (
        select(Message, Source)
        .join(Source, Source.id == Message.source_id)
        .where(Message.incident_id == incident_id)
        .order_by(Message.id)
    )
    return [(message, source) for message, source in session.execute(stmt)]


def calendar_exceptions(session: Session) -> dict[date, str]:
    """The production calendar as admins keep it: {day: holiday|working_weekend|shortened}."""
    return {row.day: row.kind for row in session.scalars(select(CalendarDay))}
