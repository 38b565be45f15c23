"""SQL of the «Проблема решена?» questions asked in VK and by e-mail (app/feedback_replies.py)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import FeedbackRequest, Incident, Source


def remember_request(
    session: Session,
    *,
    channel: str,
    ref: str,
    incident_id: int,
    answer_id: int | None,
    message_id: int | None,
    thread: str | None,
    author_id: str | None,
    contact: str | None,
    now: datetime,
) -> FeedbackRequest:
    """The question asked at `ref` (created once: a resent answer keeps the first row)."""
    stmt = select(FeedbackRequest).where(
        FeedbackRequest.channel == channel, FeedbackRequest.ref == ref
    )
    found = session.scalar(stmt)
    if found is not None:
        return found
    request = FeedbackRequest(
        channel=channel,
        ref=ref[:200],
        incident_id=incident_id,
        answer_id=answer_id,
        message_id=message_id,
        thread=thread,
        author_id=author_id,
        contact=contact,
        asked_at=now,
    )
    session.add(request)
    session.flush()
    return request


def source_kinds(session: Session, *, source_ids: Collection[int]) -> dict[int, str]:
    """Kind of each source by id."""
    rows = session.execute(select(Source.id, Source.kind).where(Source.id.in_(source_ids)))
    return {source_id: kind for source_id, kind in rows}


def requests_by_ref(
    session: Session, *, channel: str, refs: Collection[str]
) -> dict[str, FeedbackRequest]:
    """Questions of a channel whose ref is among `refs`, keyed by ref."""
    if not refs:
        return {}
    stmt = select(FeedbackRequest).where(
        FeedbackRequest.channel == channel, FeedbackRequest.ref.in_(refs)
    )
    return {request.ref: request for request in session.scalars(stmt)}


def requests_in_threads(
    session: Session, *, channel: str, threads: Collection[str]
) -> list[FeedbackRequest]:
    """Questions of a channel asked in these threads (VK posts), oldest first."""
    if not threads:
        return []
    stmt = (
        select(FeedbackRequest)
        .where(FeedbackRequest.channel == channel, FeedbackRequest.thread.in_(threads))
        .order_by(FeedbackRequest.id)
    )
    return list(session.scalars(stmt))


def requests_for_numbers(
    session: Session, *, channel: str, numbers: Collection[str]
) -> list[tuple[FeedbackRequest, str]]:
    """Questions of a channel about incidents with these public numbers, with the number."""
    if not numbers:
        return []
    stmt = (
        select(FeedbackRequest, Incident.number)
        .join(Incident, Incident.id == FeedbackRequest.incident_id)
        .where(FeedbackRequest.channel == channel, Incident.number.in_(numbers))
        .order_by(FeedbackRequest.id)
    )
    return [(request, str(number)) for request, number in session.execute(stmt)]
