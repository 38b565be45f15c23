"""One incident for its page: messages across channels, history, answers, verdicts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from core.models import (
    Answer,
    Block,
    CitizenFeedback,
    Department,
    Incident,
    IncidentEvent,
    Message,
    Source,
    User,
)
from web.repository.scope import IncidentScope


@dataclass(frozen=True)
class TimelineItem:
    message_id: int
    source_kind: str
    source_name: str
    author_name: str | None
    created_at: datetime
    text: str
    url: str | None
    place_text: str | None
    attachments: list[Any]


@dataclass(frozen=True)
class EventRow:
    at: datetime
    action: str
    actor: str | None
    from_status: str | None
    to_status: str | None
    reason: str | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class AnswerRow:
    id: int
    kind: str
    text: str
    author: str | None
    created_at: datetime
    published_at: datetime | None
    formal_reply: bool
    formal_reasons: list[Any]


def visible_incident(
    session: Session, *, incident_id: int, scope: IncidentScope
) -> Incident | None:
    """The incident if it exists and the scope allows it (else None: shown as 404)."""
    incident = session.get(Incident, incident_id)
    if incident is None or not scope.allows(incident):
        return None
    return incident


def timeline(session: Session, *, incident_id: int) -> list[TimelineItem]:
    """Every message of the incident, oldest first, with its channel."""
    stmt = (
        select(Message, Source.kind, Source.name)
        .join(Source, Source.id == Message.source_id)
        .where(Message.incident_id == incident_id)
        .order_by(Message.created_at, Message.id)
    )
    return [
        TimelineItem(
            message_id=msg.id,
            source_kind=kind,
            source_name=name,
            author_name=msg.author_name,
            created_at=msg.created_at,
            text=msg.text,
            url=msg.url,
            place_text=msg.place_text,
            attachments=list(msg.attachments or []),
        )
        for msg, kind, name in session.execute(stmt)
    ]


def history(session: Session, *, incident_id: int) -> list[EventRow]:
    """Audit events, oldest first, with the actor's name (None: the system or the citizen)."""
    stmt = (
        select(IncidentEvent, User.full_name, User.username)
        .outerjoin(User, User.id == IncidentEvent.actor_id)
        .where(IncidentEvent.incident_id == incident_id)
        .order_by(IncidentEvent.at, IncidentEvent.id)
    )
    return [
        EventRow(
            at=ev.at,
            action=ev.action,
            actor=(full or login) if login else None,
            from_status=ev.from_status,
            to_status=ev.to_status,
            reason=ev.reason,
            payload=dict(ev.payload or {}),
        )
        for ev, full, login in session.execute(stmt)
    ]


def answers(session: Session, *, incident_id: int, published_only: bool = False) -> list[AnswerRow]:
    """Answers, oldest first (only published ones when asked)."""
    stmt = (
        select(Answer, User.full_name)
        .outerjoin(User, User.id == Answer.author_id)
        .where(Answer.incident_id == incident_id)
        .order_by(Answer.created_at, Answer.id)
    )
    if published_only:
        stmt = stmt.where(Answer.published_at.is_not(None))
    return [
        AnswerRow(
            id=a.id,
            kind=a.kind,
            text=a.text,
            author=name,
            created_at=a.created_at,
            published_at=a.published_at,
            formal_reply=a.formal_reply,
            formal_reasons=list(a.formal_reasons or []),
        )
        for a, name in session.execute(stmt)
    ]


def feedback(session: Session, *, incident_id: int) -> list[CitizenFeedback]:
    """The citizen's verdicts, oldest first."""
    stmt = (
        select(CitizenFeedback)
        .where(CitizenFeedback.incident_id == incident_id)
        .order_by(CitizenFeedback.created_at, CitizenFeedback.id)
    )
    return list(session.scalars(stmt))


_EXECUTOR = aliased(User, name="executor")
_CARD = (
    select(
        Incident,
        Block.name,
        Department.name,
        func.coalesce(func.nullif(_EXECUTOR.full_name, ""), _EXECUTOR.username),
    )
    .outerjoin(Block, Block.code == Incident.block_code)
    .outerjoin(Department, Department.id == Incident.department_id)
    .outerjoin(_EXECUTOR, _EXECUTOR.id == Incident.executor_id)
)


def incident_card(
    session: Session, *, incident_id: int, scope: IncidentScope
) -> tuple[Incident, dict[str, str | None]] | None:
    """The incident with its block, department and executor names, in one query (None when
    it does not exist or the scope hides it)."""
    found = session.execute(_CARD.where(Incident.id == incident_id)).first()
    if found is None or not scope.allows(found[0]):
        return None
    incident, block, department, executor = found
    names = {"block": block or incident.block_code, "department": department, "executor": executor}
    return incident, names


def names_of(session: Session, *, incident: Incident) -> dict[str, str | None]:
    """Block, department and executor names of an incident already loaded."""
    card = incident_card(session, incident_id=incident.id, scope=IncidentScope())
    return card[1] if card else {"block": incident.block_code, "department": None, "executor": None}


def answer_by_id(session: Session, *, answer_id: int) -> Answer | None:
    """One answer row."""
    return session.get(Answer, answer_id)


def message_in_incident(session: Session, *, message_id: int, incident_id: int) -> Message | None:
    """The message if it belongs to the incident."""
    msg = session.get(Message, message_id)
    return msg if msg is not None and msg.incident_id == incident_id else None
