"""Incidents, their audited history, answers and the citizen's verdict."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, desc, text
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, utcnow

INCIDENT_STATUSES = (
    "new",
    "assigned",
    "in_progress",
    "answered",
    "paused",
    "resolved",
    "rejected",
    "closed",
    "reopened",
)
OPEN_STATUSES = ("new", "assigned", "in_progress", "answered", "paused", "reopened")
OPEN_PREDICATE = "status IN ('new', 'assigned', 'in_progress', 'answered', 'paused', 'reopened')"
QUEUE_PREDICATE = (
    "status IN ('new', 'reopened') OR (needs_review IS true AND status IN "
    "('new', 'assigned', 'in_progress', 'answered', 'paused', 'reopened'))"
)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status_due", "status", "due_at"),
        Index("ix_incidents_block_status", "block_code", "status"),
        # Duplicate search and the open incidents of a block, newest first by (received_at,
        # id): id too, or the rows received in one instant are all read and sorted; partial,
        # or a prepared (generic) plan prefers the open-incidents index and filters the block.
        Index(
            "ix_incidents_open_block_received",
            "block_code",
            "received_at",
            "id",
            postgresql_where=text(OPEN_PREDICATE),
            sqlite_where=text(OPEN_PREDICATE),
        ),
        # Newest-first pages order by (received_at, id): deep pages need no extra sort. It
        # serves lookups by received_at alone too, so there is no index on that column only.
        Index("ix_incidents_received_id", "received_at", "id"),
        # Open incidents newest first (the dashboard's map, deadline counts): a partial
        # index, so the two-year archive of finished incidents is never walked.
        Index(
            "ix_incidents_open_received",
            "received_at",
            # Counts by block, status, deadline or settlement read the index alone.
            postgresql_include=["block_code", "status", "due_at", "settlement"],
            postgresql_where=text(OPEN_PREDICATE),
            sqlite_where=text(OPEN_PREDICATE),
        ),
        # The triage queue in its order (urgent first, nearest deadline); partial, so it
        # holds the few queued incidents, not the archive. The predicate is the one of
        # web.repository.incidents.queue_clause, written out literally (see there).
        Index(
            "ix_incidents_queue",
            desc("urgent"),
            "due_at",
            desc("id"),
            postgresql_where=text(QUEUE_PREDICATE),
            sqlite_where=text(QUEUE_PREDICATE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(String(30), unique=True)
    block_code: Mapped[str] = mapped_column(ForeignKey("blocks.code"))
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="new")
    urgent: Mapped[bool] = mapped_column(default=False)
    needs_review: Mapped[bool] = mapped_column(default=False)
    settlement: Mapped[str | None] = mapped_column(String(120))
    street: Mapped[str | None] = mapped_column(String(120))
    house: Mapped[str | None] = mapped_column(String(20))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    executor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sla_policy: Mapped[str] = mapped_column(ForeignKey("sla_policies.code"))
    received_at: Mapped[datetime]
    first_answer_due_at: Mapped[datetime | None]
    final_due_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    first_answered_at: Mapped[datetime | None]
    final_answered_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    reopen_count: Mapped[int] = mapped_column(default=0)
    escalation_level: Mapped[int] = mapped_column(default=0)
    message_count: Mapped[int] = mapped_column(default=1)
    text_fingerprint: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IncidentEvent(Base):
    """Audit: who did what to an incident, when, from which status to which, and why."""

    __tablename__ = "incident_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Answer(Base):
    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(10))  # interim | final
    text: Mapped[str] = mapped_column(Text)
    formal_reply: Mapped[bool] = mapped_column(default=False)  # «отписка»
    formal_reasons: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]  # made public (track page, Open311) by a person
    delivered_at: Mapped[datetime | None]  # sent to the citizen's channels (VK, Telegram)


class CitizenFeedback(Base):
    __tablename__ = "citizen_feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    verdict: Mapped[str] = mapped_column(String(10))  # yes | partial | no
    comment: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FeedbackRequest(Base):
    """Where the citizen was asked «Проблема решена?» outside Telegram and the web.

    `ref` is what a reply points back at: the VK comment that asked (`comment-G_P_C`) or the
    Message-ID of the reply letter. `thread` is the VK post, for replies that do not quote
    the question. `author_id` / `contact` name the person asked: only they may answer.
    `verdict` / `answered_at`: their latest verdict to this question (a repeat is not counted).
    """

    __tablename__ = "feedback_requests"
    __table_args__ = (
        UniqueConstraint("channel", "ref"),
        Index("ix_feedback_requests_thread", "thread"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("answers.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(20))  # vk | email
    ref: Mapped[str] = mapped_column(String(200))
    thread: Mapped[str | None] = mapped_column(String(200))
    author_id: Mapped[str | None] = mapped_column(String(80))
    contact: Mapped[str | None] = mapped_column(String(300))
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    verdict: Mapped[str | None] = mapped_column(String(10))
    answered_at: Mapped[datetime | None]
