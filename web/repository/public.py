"""Queries of the public pages: a citizen's own message by its tracking number."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Answer, Block, CitizenFeedback, Incident, Message, Source


@dataclass(frozen=True)
class PublicAnswer:
    kind: str
    text: str
    published_at: datetime


@dataclass(frozen=True)
class TrackInfo:
    """Only what the author of the message may see: no names, contacts or other texts."""

    received_at: datetime
    number: str | None
    status: str | None
    block: str | None
    updated_at: datetime | None
    due_at: datetime | None
    resolved_at: datetime | None
    answers: list[PublicAnswer]
    verdict: str | None
    incident_id: int | None


def _answers(session: Session, incident_id: int) -> list[PublicAnswer]:
    stmt = (
        select(Answer.kind, Answer.text, Answer.published_at)
        .where(Answer.incident_id == incident_id, Answer.published_at.is_not(None))
        .order_by(Answer.published_at, Answer.id)
    )
    return [PublicAnswer(kind, text, at) for kind, text, at in session.execute(stmt) if at]


def _verdict(session: Session, incident_id: int) -> str | None:
    stmt = (
        select(CitizenFeedback.verdict)
        .where(CitizenFeedback.incident_id == incident_id)
        .order_by(CitizenFeedback.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)


def track(session: Session, *, source_name: str, external_id: str) -> TrackInfo | None:
    """Status of the message sent through the web form, by its random tracking id."""
    stmt = (
        select(Message)
        .join(Source, Source.id == Message.source_id)
        .where(Source.name == source_name, Message.external_id == external_id)
    )
    msg = session.scalar(stmt)
    if msg is None:
        return None
    incident = session.get(Incident, msg.incident_id) if msg.incident_id else None
    if incident is None:
        return TrackInfo(msg.received_at, None, None, None, None, None, None, [], None, None)
    block = session.get(Block, incident.block_code)
    return TrackInfo(
        received_at=msg.received_at,
        number=incident.number,
        status=incident.status,
        block=block.name if block else None,
        updated_at=incident.updated_at,
        due_at=incident.due_at,
        resolved_at=incident.resolved_at,
        answers=_answers(session, incident.id),
        verdict=_verdict(session, incident.id),
        incident_id=incident.id,
    )
