"""SQL of the composition root (demo, bot, classifier training, weekly job)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import Department, Incident, Message, TrainingExample, User, UserBlock


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
