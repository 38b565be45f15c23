"""All SQL of alert delivery and Telegram linking. Functions flush; callers commit."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, case, func, select, text, update
from sqlalchemy.orm import Session

from alerts.digest import DIGEST_KIND
from core.models import OPEN_STATUSES, AlertOutbox, Block, Incident, TelegramLink, User

# Delivery states. "sending" is a lease: claimed by a worker until next_attempt_at.
PENDING, SENDING, SENT, FAILED, DEAD, SKIPPED = (
    "pending",
    "sending",
    "sent",
    "failed",
    "dead",
    "skipped",
)
CLAIMABLE = (PENDING, FAILED, SENDING)


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who an alert goes to and where."""

    user_id: int
    full_name: str
    active: bool
    chat_id: int | None
    quiet_from: str | None
    quiet_to: str | None


def claim_due(
    session: Session, *, now: datetime, limit: int, lease: timedelta
) -> list[AlertOutbox]:
    """Atomically lease up to `limit` due rows (urgent first, then oldest), attempts + 1.

    One UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) … RETURNING: concurrent
    workers on PostgreSQL skip each other's rows; SQLite takes its write lock for the whole
    statement. A "sending" row whose lease ran out (its worker died) is due again.
    """
    due = (
        select(AlertOutbox.id)
        .where(
            AlertOutbox.status.in_(CLAIMABLE),
            AlertOutbox.next_attempt_at <= now,
            ~_digested(),
        )
        .order_by(AlertOutbox.urgent.desc(), AlertOutbox.id)
        .limit(limit)
    )
    rows = _lease(session, due, now=now, lease=lease)
    return sorted(rows, key=lambda row: (not row.urgent, row.id))


def _digested() -> ColumnElement[bool]:
    """Rows that go out only inside a user's digest (see alerts.digest)."""
    # Without a recipient there is no digest to wait for: claimed alone, then skipped.
    return (
        (AlertOutbox.kind == DIGEST_KIND)
        & AlertOutbox.urgent.is_(False)
        & AlertOutbox.user_id.is_not(None)
    )


def _lease(
    session: Session, ids: Select[Any], *, now: datetime, lease: timedelta
) -> list[AlertOutbox]:
    """Mark the selected rows "sending" until `now + lease`, attempts + 1; return them."""
    if _dialect(session) == "postgresql":
        ids = ids.with_for_update(skip_locked=True)
    stmt = (
        update(AlertOutbox)
        .where(AlertOutbox.id.in_(ids.scalar_subquery()))
        .values(status=SENDING, attempts=AlertOutbox.attempts + 1, next_attempt_at=now + lease)
        .returning(AlertOutbox)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return list(session.scalars(stmt))


def claim_digests(
    session: Session, *, now: datetime, window: timedelta, lease: timedelta, users: int
) -> list[AlertOutbox]:
    """Lease every waiting digest row of up to `users` users whose digest is due.

    A user's digest is due when their oldest waiting row is at least `window` old and none
    of their rows is held back (quiet hours, backoff, another worker's lease).
    """
    waiting = _digested() & AlertOutbox.status.in_(CLAIMABLE)
    ready = (
        select(AlertOutbox.user_id)
        .where(waiting)
        .group_by(AlertOutbox.user_id)
        .having(
            func.min(AlertOutbox.created_at) <= now - window,
            func.max(AlertOutbox.next_attempt_at) <= now,
        )
        .order_by(func.min(AlertOutbox.created_at))
        .limit(users)
    )
    ids = select(AlertOutbox.id).where(waiting, AlertOutbox.user_id.in_(ready.scalar_subquery()))
    return sorted(_lease(session, ids, now=now, lease=lease), key=lambda row: row.id)


def recipients(session: Session, *, user_ids: Iterable[int]) -> dict[int, Recipient]:
    """Users by id with the chat of their active Telegram link (None when unlinked)."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    stmt = (
        select(User, TelegramLink.chat_id)
        .outerjoin(TelegramLink, (TelegramLink.user_id == User.id) & TelegramLink.active.is_(True))
        .where(User.id.in_(ids))
    )
    return {
        user.id: Recipient(
            user.id,
            user.full_name or user.username,
            user.active,
            chat,
            user.quiet_from,
            user.quiet_to,
        )
        for user, chat in session.execute(stmt)
    }


def block_names(session: Session) -> dict[str, str]:
    """Block code → name for message text."""
    return {code: name for code, name in session.execute(select(Block.code, Block.name))}


def mark_sent(session: Session, *, alert_id: int, at: datetime) -> None:
    """The messenger accepted the message."""
    _set(session, alert_id, status=SENT, sent_at=at, last_error=None)


def reschedule(
    session: Session, *, alert_id: int, status: str, at: datetime, error: str | None, refund: bool
) -> None:
    """Due again at `at`; `refund` when the try does not count (flood wait, quiet hours)."""
    values: dict[str, object] = {"status": status, "next_attempt_at": at, "last_error": error}
    if refund:
        values["attempts"] = AlertOutbox.attempts - 1
    _set(session, alert_id, **values)


def set_payload(session: Session, *, alert_id: int, payload: dict[str, object]) -> None:
    """Record progress of a multi-part alert (the row stays leased)."""
    _set(session, alert_id, payload=payload)


def mark_final(session: Session, *, alert_id: int, status: str, reason: str) -> None:
    """Give up on the row (dead) or decide it needs no delivery (skipped)."""
    _set(session, alert_id, status=status, last_error=reason[:2000])


def status_counts(session: Session) -> dict[str, int]:
    """How many outbox rows are in each state."""
    stmt = select(AlertOutbox.status, func.count()).group_by(AlertOutbox.status)
    return {status: count for status, count in session.execute(stmt)}


def _set(session: Session, alert_id: int, **values: object) -> None:
    stmt = update(AlertOutbox).where(AlertOutbox.id == alert_id).values(**values)
    session.execute(stmt.execution_options(synchronize_session=False))


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


@contextmanager
def delivery_lock(engine: Engine) -> Iterator[bool]:
    """On PostgreSQL, a session advisory lock held by one connection for the whole run.

    The delivery run commits per message, so the job wrapper's transaction lock would be
    gone after the first commit; this one keeps two workers from pacing the same chats
    with two independent rate limiters. Yields False when another worker holds it.
    SQLite: always True (one process writes).
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = zlib.crc32(b"mcu:alerts_delivery")
    with engine.connect() as conn:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()


# --- links -------------------------------------------------------------------------------


def user_by_username(session: Session, username: str) -> User | None:
    """The staff account with this login."""
    return session.scalar(select(User).where(User.username == username))


def link_of(session: Session, *, user_id: int) -> TelegramLink | None:
    """The user's link row (active or not)."""
    return session.scalar(select(TelegramLink).where(TelegramLink.user_id == user_id))


def link_by_code(session: Session, *, code: str) -> TelegramLink | None:
    """The link row waiting for this one-time code."""
    return session.scalar(select(TelegramLink).where(TelegramLink.link_code == code))


def active_links_of_chat(session: Session, *, chat_id: int) -> list[TelegramLink]:
    """Active links that deliver to this chat."""
    stmt = select(TelegramLink).where(
        TelegramLink.chat_id == chat_id, TelegramLink.active.is_(True)
    )
    return list(session.scalars(stmt))


def user_for_chat(session: Session, *, chat_id: int) -> User | None:
    """The active staff account linked to this private chat."""
    stmt = (
        select(User)
        .join(TelegramLink, TelegramLink.user_id == User.id)
        .where(
            TelegramLink.chat_id == chat_id,
            TelegramLink.active.is_(True),
            User.active.is_(True),
        )
        .order_by(TelegramLink.linked_at.desc())
    )
    return session.scalars(stmt).first()


def deactivate_link(session: Session, *, user_id: int, at: datetime) -> None:
    """The user blocked the bot: stop delivering until they link again."""
    stmt = (
        update(TelegramLink)
        .where(TelegramLink.user_id == user_id)
        .values(active=False, blocked_at=at)
        .execution_options(synchronize_session=False)
    )
    session.execute(stmt)


def incident_department_executors(
    session: Session, *, incident_id: int
) -> tuple[Incident | None, list[User]]:
    """The incident and the active executors of its department (by name)."""
    incident = session.get(Incident, incident_id)
    if incident is None or incident.department_id is None:
        return incident, []
    stmt = (
        select(User)
        .where(
            User.department_id == incident.department_id,
            User.role == "executor",
            User.active.is_(True),
        )
        .order_by(User.full_name, User.id)
    )
    return incident, list(session.scalars(stmt))


def incident_statuses(session: Session, *, incident_ids: Iterable[int]) -> dict[int, str]:
    """Current status of each incident (to drop alerts about closed ones)."""
    ids = sorted(set(incident_ids))
    if not ids:
        return {}
    stmt = select(Incident.id, Incident.status).where(Incident.id.in_(ids))
    return {incident_id: status for incident_id, status in session.execute(stmt)}


def blocked_links(session: Session) -> list[tuple[User, datetime]]:
    """Users whose link was turned off because they blocked the bot, most recent first."""
    stmt = (
        select(User, TelegramLink.blocked_at)
        .join(TelegramLink, TelegramLink.user_id == User.id)
        .where(TelegramLink.blocked_at.is_not(None), TelegramLink.active.is_(False))
        .order_by(TelegramLink.blocked_at.desc(), User.id)
    )
    return [(user, at) for user, at in session.execute(stmt) if at is not None]


# --- daily reports ----------------------------------------------------------------------


def active_users_with_role(session: Session, *, role: str) -> list[int]:
    """Ids of active users holding the role."""
    stmt = select(User.id).where(User.role == role, User.active.is_(True)).order_by(User.id)
    return list(session.scalars(stmt))


def add_alerts(session: Session, *, rows: list[AlertOutbox]) -> int:
    """Queue rows whose dedupe key is not taken yet; returns how many were added."""
    keys = [row.dedupe_key for row in rows]
    taken = set(
        session.scalars(select(AlertOutbox.dedupe_key).where(AlertOutbox.dedupe_key.in_(keys)))
    )
    fresh = [row for row in rows if row.dedupe_key not in taken]
    session.add_all(fresh)
    session.flush()
    return len(fresh)


def open_by_status(session: Session) -> dict[str, int]:
    """How many incidents are in each open status."""
    stmt = (
        select(Incident.status, func.count())
        .where(Incident.status.in_(OPEN_STATUSES))
        .group_by(Incident.status)
    )
    return {status: count for status, count in session.execute(stmt)}


def received_by_block(
    session: Session, *, since: datetime, until: datetime
) -> list[tuple[str, int]]:
    """Incidents received in [since, until) per block, most first."""
    count = func.count().label("n")
    stmt = (
        select(Incident.block_code, count)
        .where(Incident.received_at >= since, Incident.received_at < until)
        .group_by(Incident.block_code)
        .order_by(count.desc(), Incident.block_code)
    )
    return [(block, n) for block, n in session.execute(stmt)]


def resolved_between(session: Session, *, since: datetime, until: datetime) -> int:
    """Incidents resolved in [since, until)."""
    stmt = select(func.count()).where(Incident.resolved_at >= since, Incident.resolved_at < until)
    return int(session.scalar(stmt) or 0)


def _overdue(now: datetime) -> ColumnElement[bool]:
    return Incident.status.in_(OPEN_STATUSES) & (Incident.due_at < now)


def overdue_count(session: Session, *, now: datetime) -> int:
    """Open incidents past their deadline."""
    return int(session.scalar(select(func.count()).where(_overdue(now))) or 0)


def most_overdue(session: Session, *, now: datetime, limit: int) -> list[Incident]:
    """Open incidents that have been overdue the longest."""
    stmt = select(Incident).where(_overdue(now)).order_by(Incident.due_at, Incident.id).limit(limit)
    return list(session.scalars(stmt))


def problem_places(session: Session, *, now: datetime, limit: int) -> list[tuple[str, int, int]]:
    """Settlements with the most overdue, then the most open incidents: (name, open, overdue)."""
    overdue = func.sum(case((Incident.due_at < now, 1), else_=0)).label("overdue")
    total = func.count().label("total")
    stmt = (
        select(Incident.settlement, total, overdue)
        .where(Incident.status.in_(OPEN_STATUSES), Incident.settlement.is_not(None))
        .group_by(Incident.settlement)
        .order_by(overdue.desc(), total.desc(), Incident.settlement)
        .limit(limit)
    )
    return [(str(name), int(n), int(late or 0)) for name, n, late in session.execute(stmt)]
