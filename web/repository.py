"""Read-only queries for pages (all SQL of the web layer lives here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import OPEN_STATUSES, Block, Department, Incident, Message, User


@dataclass(frozen=True)
class IncidentRow:
    id: int
    number: str | None
    title: str
    block_code: str
    block_name: str
    status: str
    urgent: bool
    settlement: str | None
    department: str | None
    received_at: datetime
    due_at: datetime | None
    message_count: int


def recent_incidents(session: Session, *, limit: int = 50, offset: int = 0) -> list[IncidentRow]:
    """The newest incidents with their block and department names."""
    stmt = (
        select(Incident, Block.name, Department.name)
        .join(Block, Block.code == Incident.block_code)
        .outerjoin(Department, Department.id == Incident.department_id)
        .order_by(Incident.received_at.desc(), Incident.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [
        IncidentRow(
            id=inc.id,
            number=inc.number,
            title=inc.title,
            block_code=inc.block_code,
            block_name=block_name,
            status=inc.status,
            urgent=inc.urgent,
            settlement=inc.settlement,
            department=dept_name,
            received_at=inc.received_at,
            due_at=inc.due_at,
            message_count=inc.message_count,
        )
        for inc, block_name, dept_name in session.execute(stmt)
    ]


def count_incidents(session: Session) -> int:
    """All incidents."""
    return session.scalar(select(func.count(Incident.id))) or 0


def counts_by_block(session: Session) -> list[tuple[str, str, int, int]]:
    """(code, name, open, total) per block, in the rubricator's order."""
    open_count = func.sum(func.cast(Incident.status.in_(OPEN_STATUSES), type_=Incident.id.type))
    stmt = (
        select(Block.code, Block.name, func.coalesce(open_count, 0), func.count(Incident.id))
        .outerjoin(Incident, Incident.block_code == Block.code)
        .group_by(Block.code, Block.name, Block.sort_order)
        .order_by(Block.sort_order)
    )
    return [(code, name, int(o), int(t)) for code, name, o, t in session.execute(stmt)]


def overdue_now(session: Session, *, now: datetime) -> int:
    """Open incidents whose nearest deadline has passed."""
    stmt = select(func.count(Incident.id)).where(
        Incident.status.in_(OPEN_STATUSES), Incident.due_at < now
    )
    return session.scalar(stmt) or 0


def messages_total(session: Session) -> int:
    """All stored messages."""
    return session.scalar(select(func.count(Message.id))) or 0


def user_by_username(session: Session, *, username: str) -> User | None:
    """The user with that login, if any."""
    return session.scalar(select(User).where(User.username == username))
