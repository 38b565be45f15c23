"""Outbox delivery: claim due alerts, pace them through the rate limiter, record each result.

Delivery guarantee — at least once, duplicates bounded to one message per crash:

1. the claim (status "sending", attempts + 1, a lease until `now + lease`) is committed
   before anything is sent;
2. messages are sent one by one and each result (sent / requeued / failed / dead) is
   committed right after that message.

A crash between a send and its commit leaves exactly that row "sending"; rows not yet sent
are "sending" too but were never handed to Telegram. When the lease runs out, the next run
claims them all again: the in-flight message is sent once more, the others for the first
time. Nothing is lost and nothing else is repeated.

Row states: pending → sending → sent; failed (transient error, retried with backoff);
dead (gave up: blocked bot, too many failures); skipped (nothing to deliver by design:
no recipient, no active Telegram link, account disabled, incident already closed).
Skipped alerts are not replayed when the user links Telegram later: they would be stale.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from alerts import repository as repo
from alerts.base import Forbidden, Notifier, RetryAfter, TransientError
from alerts.format import AlertMessage, FormatContext, format_alert
from alerts.ratelimit import Limiter, RateLimiter
from alerts.schedule import backoff, quiet_until
from core.models import OPEN_STATUSES, AlertOutbox

Sessions = Session | sessionmaker[Session]
Sleep = Callable[[float], Awaitable[Any]]

NO_LINK = "нет привязки Telegram"
NO_USER = "нет получателя"
USER_DISABLED = "учётная запись отключена"
CLOSED = "инцидент уже закрыт"
BLOCKED = "бот заблокирован пользователем"
TOO_MANY = "превышено число попыток"
BAD_PAYLOAD = "не удалось сформировать сообщение"


@dataclass(slots=True)
class DeliveryStats:
    """What one run did."""

    claimed: int = 0
    sent: int = 0
    retry_after: int = 0  # flood control: requeued, not counted as a failure
    failed: int = 0  # transient error: retried later with backoff
    dead: int = 0
    skipped: int = 0
    postponed: int = 0  # quiet hours
    deferred: int = 0  # the chat's pace did not fit this run: next run
    locked: bool = False  # another worker is delivering

    def as_dict(self) -> dict[str, Any]:
        """Non-zero figures, for job logs."""
        return {k: v for k, v in asdict(self).items() if v}


@dataclass(frozen=True, slots=True)
class DeliveryOptions:
    """Knobs of a run; defaults suit a delivery job every few seconds."""

    base_url: str = ""
    tz: str = "UTC"
    max_attempts: int = 8
    lease: timedelta = timedelta(minutes=5)
    max_wait: float = 5.0  # a chat held longer (flood control) is left to the next run
    max_run: float = 30.0  # seconds of pacing per run; what does not fit waits for the next


@dataclass(slots=True)
class _Item:
    row: AlertOutbox
    chat_id: int
    message: AlertMessage


@dataclass(slots=True)
class _Run:
    session: Session
    notifier: Notifier
    limiter: Limiter
    options: DeliveryOptions
    now: datetime
    clock: Callable[[], float]
    sleep: Sleep
    started: float = 0.0
    stats: DeliveryStats = field(default_factory=DeliveryStats)
    blocked: set[int] = field(default_factory=set)

    def at(self) -> datetime:
        """`now` advanced by the time this run has taken (on the injected clock)."""
        return self.now + timedelta(seconds=self.clock() - self.started)


async def deliver_due(
    sessions: Sessions,
    *,
    notifier: Notifier,
    now: datetime,
    limit: int = 100,
    limiter: Limiter | None = None,
    options: DeliveryOptions | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> DeliveryStats:
    """Deliver up to `limit` due alerts; commits the claim, then after every message."""
    with _open(sessions) as session:
        bind = session.get_bind()
        lock = repo.delivery_lock(bind) if isinstance(bind, Engine) else _always()
        with lock as got:
            if not got:
                return DeliveryStats(locked=True)
            run = _Run(
                session=session,
                notifier=notifier,
                limiter=limiter or RateLimiter(clock=clock),
                options=options or DeliveryOptions(),
                now=now,
                clock=clock,
                sleep=sleep,
                started=clock(),
            )
            await _deliver(run, limit=limit)
            return run.stats


async def _deliver(run: _Run, *, limit: int) -> None:
    session = run.session
    rows = repo.claim_due(session, now=run.now, limit=limit, lease=run.options.lease)
    session.commit()  # the claim is durable before anything leaves
    run.stats.claimed = len(rows)
    if not rows:
        return
    people = repo.recipients(session, user_ids=[r.user_id for r in rows if r.user_id])
    statuses = repo.incident_statuses(
        session, incident_ids=[r.incident_id for r in rows if r.incident_id]
    )
    ctx = FormatContext(run.options.base_url, run.options.tz, repo.block_names(session))
    items = []
    for row in rows:
        person = people.get(row.user_id or 0)
        reason = _skip_reason(row, person, statuses)
        if reason is not None:
            repo.mark_final(session, alert_id=row.id, status=repo.SKIPPED, reason=reason)
            run.stats.skipped += 1
        elif person is not None and not _given_up(run, row) and not _postponed(run, row, person):
            item = _prepare(run, row, person.chat_id or 0, ctx)
            if item is not None:
                items.append(item)
    session.commit()
    await _send_paced(run, items)


def _given_up(run: _Run, row: AlertOutbox) -> bool:
    """A row reclaimed again and again (its run keeps crashing) must not block the queue."""
    if row.attempts <= run.options.max_attempts:
        return False
    reason = f"{TOO_MANY} ({row.attempts - 1}); {row.last_error or 'прерванные запуски'}"
    repo.mark_final(run.session, alert_id=row.id, status=repo.DEAD, reason=reason)
    run.stats.dead += 1
    return True


def _prepare(run: _Run, row: AlertOutbox, chat_id: int, ctx: FormatContext) -> _Item | None:
    """The message for the row; a payload that cannot be formatted kills only that row."""
    try:
        message = format_alert(
            kind=row.kind, payload=row.payload, urgent=row.urgent, now=run.now, ctx=ctx
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        reason = f"{BAD_PAYLOAD}: {type(exc).__name__}: {exc}"
        repo.mark_final(run.session, alert_id=row.id, status=repo.DEAD, reason=reason)
        run.stats.dead += 1
        return None
    return _Item(row, chat_id, message)


def _skip_reason(
    row: AlertOutbox, person: repo.Recipient | None, statuses: dict[int, str]
) -> str | None:
    """Why the row needs no delivery, or None when it should be sent."""
    if person is None:
        return NO_USER
    if not person.active:
        return USER_DISABLED
    if person.chat_id is None:
        return NO_LINK
    if row.incident_id is not None and statuses.get(row.incident_id) not in OPEN_STATUSES:
        return CLOSED
    return None


def _postponed(run: _Run, row: AlertOutbox, person: repo.Recipient) -> bool:
    """Hold a non-urgent alert until the user's quiet hours end."""
    if row.urgent:
        return False
    until = quiet_until(
        run.now, quiet_from=person.quiet_from, quiet_to=person.quiet_to, tz=run.options.tz
    )
    if until is None:
        return False
    repo.reschedule(
        run.session,
        alert_id=row.id,
        status=repo.PENDING,
        at=until,
        error=row.last_error,
        refund=True,
    )
    run.stats.postponed += 1
    return True


async def _send_paced(run: _Run, items: list[_Item]) -> None:
    """Send in priority order, letting a ready chat overtake one that must wait."""
    # Stay well inside the lease, so no other worker reclaims rows this run still holds.
    budget = min(run.options.max_run, run.options.lease.total_seconds() / 2)
    deadline = run.started + budget
    pending = list(items)
    while pending:
        waits = [run.limiter.wait(item.chat_id) for item in pending]
        ready = next((i for i, wait in enumerate(waits) if wait <= 0), None)
        if ready is not None:
            item = pending.pop(ready)
            run.limiter.take(item.chat_id)
            await _send_one(run, item)
            continue
        shortest = min(waits)
        late = [i for i, w in enumerate(waits) if w > run.options.max_wait]
        if run.clock() + shortest > deadline:
            late = list(range(len(pending)))
        if late:
            _defer(run, [pending[i] for i in late], [waits[i] for i in late])
            gone = set(late)
            pending = [item for i, item in enumerate(pending) if i not in gone]
            continue
        await run.sleep(shortest)


def _defer(run: _Run, items: list[_Item], waits: list[float]) -> None:
    """Give rows back for a later run, when their chat may be written to again."""
    for item, wait in zip(items, waits, strict=True):
        at = run.at() + timedelta(seconds=wait)
        repo.reschedule(
            run.session,
            alert_id=item.row.id,
            status=repo.PENDING,
            at=at,
            error=item.row.last_error,
            refund=True,
        )
        run.stats.deferred += 1
    run.session.commit()


async def _send_one(run: _Run, item: _Item) -> None:
    """Send one message and commit its outcome (the only window for a duplicate)."""
    row, session = item.row, run.session
    if row.user_id in run.blocked:
        repo.mark_final(
            session, alert_id=row.id, status=repo.SKIPPED, reason=f"{NO_LINK} ({BLOCKED})"
        )
        run.stats.skipped += 1
        session.commit()
        return
    try:
        await run.notifier.send(item.chat_id, item.message.text, item.message.buttons)
    except RetryAfter as exc:
        _retry_after(run, item, exc)
    except Forbidden as exc:
        _forbidden(run, row, exc)
    except TransientError as exc:
        _failed(run, row, exc)
    else:
        repo.mark_sent(session, alert_id=row.id, at=run.at())
        run.stats.sent += 1
    session.commit()


def _retry_after(run: _Run, item: _Item, exc: RetryAfter) -> None:
    run.limiter.pause(item.chat_id, exc.seconds)
    repo.reschedule(
        run.session,
        alert_id=item.row.id,
        status=repo.PENDING,
        at=run.at() + timedelta(seconds=exc.seconds),
        error=f"429: {exc}",
        refund=True,
    )
    run.stats.retry_after += 1


def _forbidden(run: _Run, row: AlertOutbox, exc: Forbidden) -> None:
    if row.user_id is not None:
        repo.deactivate_link(run.session, user_id=row.user_id, at=run.at())
        run.blocked.add(row.user_id)
    repo.mark_final(run.session, alert_id=row.id, status=repo.DEAD, reason=f"{BLOCKED}: {exc}")
    run.stats.dead += 1


def _failed(run: _Run, row: AlertOutbox, exc: TransientError) -> None:
    if row.attempts >= run.options.max_attempts:
        reason = f"{row.attempts} попыток, последняя ошибка: {exc}"
        repo.mark_final(run.session, alert_id=row.id, status=repo.DEAD, reason=reason)
        run.stats.dead += 1
        return
    repo.reschedule(
        run.session,
        alert_id=row.id,
        status=repo.FAILED,
        at=run.at() + backoff(row.attempts),
        error=str(exc),
        refund=False,
    )
    run.stats.failed += 1


@contextmanager
def _open(sessions: Sessions) -> Iterator[Session]:
    """Use the caller's session, or open (and close) one from a factory."""
    if isinstance(sessions, Session):
        yield sessions
        return
    session = sessions()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def _always() -> Iterator[bool]:
    yield True


def run_delivery_job(
    session: Session,
    *,
    token: str | None,
    api_base: str,
    now: datetime,
    limiter: Limiter,
    options: DeliveryOptions,
    limit: int = 100,
) -> dict[str, Any]:
    """Synchronous job body for the scheduler: one run through a fresh aiogram Bot."""
    if not token:
        return {"skipped": "MCU_TELEGRAM_TOKEN не задан"}
    from alerts.telegram import TelegramNotifier

    async def go() -> DeliveryStats:
        async with TelegramNotifier.create(token, api_base) as notifier:
            return await deliver_due(
                session, notifier=notifier, now=now, limit=limit, limiter=limiter, options=options
            )

    return asyncio.run(go()).as_dict()
