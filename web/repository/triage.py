"""Writes of the operator's triage: labelled examples and corrected classifications."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from core.models import Classification, Incident, Message, Source, TrainingExample

OPERATOR_MODEL = "operator"


def incident_messages(session: Session, *, incident_id: int) -> list[Message]:
    """Messages of the incident, oldest first."""
    stmt = select(Message).where(Message.incident_id == incident_id).order_by(Message.id)
    return list(session.scalars(stmt))


def store_correction(
    session: Session, *, message: Message, block: str, user_id: int, now: datetime
) -> TrainingExample:
    """A TrainingExample for the classifier and a corrected Classification of the message."""
    example = TrainingExample(
        text=message.text, block_code=block, message_id=message.id, user_id=user_id, created_at=now
    )
    session.add(example)
    session.add(
        Classification(
            message_id=message.id,
            block_code=block,
            confidence=1.0,
            top3=[[block, 1.0]],
            noise=block == "other",
            model_version=OPERATOR_MODEL,
            corrected_by=user_id,
            created_at=now,
        )
    )
    session.flush()
    return example


def incidents_by_ids(session: Session, *, ids: list[int]) -> list[Incident]:
    """Incidents with these ids (row-locked on PostgreSQL), in id order."""
    if not ids:
        return []
    stmt = select(Incident).where(Incident.id.in_(ids)).order_by(Incident.id).with_for_update()
    return list(session.scalars(stmt))


def incident_by_number_or_id(session: Session, *, ref: str) -> Incident | None:
    """An incident by its number («МЦУ-2026-000123») or numeric id."""
    ref = ref.strip()
    if ref.isdigit():
        return session.get(Incident, int(ref))
    return session.scalar(select(Incident).where(Incident.number == ref))


@dataclass(frozen=True)
class NoiseRow:
    message: Message
    source_kind: str
    block_code: str | None
    confidence: float | None


def _noise_filter() -> Any:
    """Messages intake left unlinked as noise and no operator has labelled yet."""
    labelled = select(Classification.id).where(
        Classification.message_id == Message.id, Classification.corrected_by.is_not(None)
    )
    return and_(Message.incident_id.is_(None), Message.status == "classified", ~exists(labelled))


def noise_messages(session: Session, *, limit: int, offset: int) -> list[NoiseRow]:
    """The noise queue, newest first, with the model's latest guess."""
    stmt = (
        select(Message, Source.kind)
        .join(Source, Source.id == Message.source_id)
        .where(_noise_filter())
        .order_by(Message.id.desc())
        .limit(limit)
        .offset(offset)
    )
    rows = list(session.execute(stmt))
    guesses: dict[int, Classification] = {}
    ids = [msg.id for msg, _ in rows]
    for found in session.scalars(
        select(Classification).where(Classification.message_id.in_(ids)).order_by(Classification.id)
    ):
        guesses[found.message_id] = found
    return [
        NoiseRow(
            msg,
            kind,
            guesses[msg.id].block_code if msg.id in guesses else None,
            guesses[msg.id].confidence if msg.id in guesses else None,
        )
        for msg, kind in rows
    ]


def count_noise(session: Session) -> int:
    """How many messages wait in the noise queue."""
    return int(session.scalar(select(func.count(Message.id)).where(_noise_filter())) or 0)


def noise_message(session: Session, *, message_id: int) -> Message | None:
    """A message of the noise queue by id (None if it has left the queue)."""
    return session.scalar(select(Message).where(Message.id == message_id, _noise_filter()))


def latest_correction(session: Session, *, message_id: int) -> Classification | None:
    """The operator's newest classification of the message."""
    stmt = (
        select(Classification)
        .where(Classification.message_id == message_id, Classification.corrected_by.is_not(None))
        .order_by(Classification.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)
