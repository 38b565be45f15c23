"""One delivery run's state, and what each outcome of a send does to the rows behind it.

An item is one message (or one file) to one chat. It stands for one outbox row, or for all
the rows of a digest, which therefore move together: sent, requeued or given up at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from alerts import repository as repo
from alerts.base import Forbidden, Notifier, RetryAfter, TransientError
from alerts.digest import DigestOptions
from alerts.format import AlertMessage
from alerts.ratelimit import Limiter
from alerts.schedule import backoff, quiet_until
from core.models import AlertOutbox

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
    """What one run did (row counts, except `digests`: digest messages sent)."""

    claimed: int = 0
    sent: int = 0
    digests: int = 0
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
    digest: DigestOptions = field(default_factory=DigestOptions)


@dataclass(slots=True)
class Item:
    """One message to one chat and the rows it settles."""

    rows: list[AlertOutbox]
    chat_id: int
    message: AlertMessage
    document: tuple[str, bytes] | None = None  # (file name, content): sent instead of text
    then: Item | None = None  # sent next, once this one went out (the weekly PDF)

    @property
    def user_id(self) -> int | None:
        """The recipient (every row of an item has the same one)."""
        return self.rows[0].user_id


@dataclass(slots=True)
class Run:
    """State shared by the steps of one run."""

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


def _requeue(run: Run, rows: list[AlertOutbox], *, at: datetime, error: str | None) -> None:
    """Due again at `at`; the try does not count (quiet hours, pacing, flood control)."""
    for row in rows:
        repo.reschedule(
            run.session, alert_id=row.id, status=repo.PENDING, at=at, error=error, refund=True
        )


def given_up(run: Run, row: AlertOutbox) -> bool:
    """A row reclaimed again and again (its run keeps crashing) must not block the queue."""
    if row.attempts <= run.options.max_attempts:
        return False
    reason = f"{TOO_MANY} ({row.attempts - 1}); {row.last_error or 'прерванные запуски'}"
    repo.mark_final(run.session, alert_id=row.id, status=repo.DEAD, reason=reason)
    run.stats.dead += 1
    return True


def postponed(run: Run, rows: list[AlertOutbox], person: repo.Recipient) -> bool:
    """Hold non-urgent rows until the user's quiet hours end."""
    if any(row.urgent for row in rows):
        return False
    until = quiet_until(
        run.now, quiet_from=person.quiet_from, quiet_to=person.quiet_to, tz=run.options.tz
    )
    if until is None:
        return False
    for row in rows:
        _requeue(run, [row], at=until, error=row.last_error)
    run.stats.postponed += len(rows)
    return True


def defer(run: Run, items: list[Item], waits: list[float]) -> None:
    """Give rows back for a later run, when their chat may be written to again."""
    for item, wait in zip(items, waits, strict=True):
        at = run.at() + timedelta(seconds=wait)
        for row in item.rows:
            _requeue(run, [row], at=at, error=row.last_error)
        run.stats.deferred += len(item.rows)
    run.session.commit()


def sent(run: Run, item: Item, *, digest: bool) -> None:
    """The messenger accepted the item: every row behind it is sent, in one transaction."""
    for row in item.rows:
        repo.mark_sent(run.session, alert_id=row.id, at=run.at())
    run.stats.sent += len(item.rows)
    run.stats.digests += int(digest)


def retry_after(run: Run, item: Item, exc: RetryAfter) -> None:
    """Flood control: pause the chat and requeue without counting the try."""
    run.limiter.pause(item.chat_id, exc.seconds)
    _requeue(run, item.rows, at=run.at() + timedelta(seconds=exc.seconds), error=f"429: {exc}")
    run.stats.retry_after += len(item.rows)


def forbidden(run: Run, item: Item, exc: Forbidden) -> None:
    """The user blocked the bot: deactivate the link and give the rows up."""
    if item.user_id is not None:
        repo.deactivate_link(run.session, user_id=item.user_id, at=run.at())
        run.blocked.add(item.user_id)
    for row in item.rows:
        repo.mark_final(run.session, alert_id=row.id, status=repo.DEAD, reason=f"{BLOCKED}: {exc}")
    run.stats.dead += len(item.rows)


def failed(run: Run, item: Item, exc: TransientError) -> None:
    """Retry each row with backoff, or give it up after `max_attempts`."""
    for row in item.rows:
        if row.attempts >= run.options.max_attempts:
            reason = f"{row.attempts} попыток, последняя ошибка: {exc}"
            repo.mark_final(run.session, alert_id=row.id, status=repo.DEAD, reason=reason)
            run.stats.dead += 1
            continue
        repo.reschedule(
            run.session,
            alert_id=row.id,
            status=repo.FAILED,
            at=run.at() + backoff(row.attempts),
            error=str(exc),
            refund=False,
        )
        run.stats.failed += 1


def skipped_blocked(run: Run, item: Item) -> None:
    """The chat blocked the bot earlier in this run: nothing more goes there."""
    for row in item.rows:
        repo.mark_final(
            run.session, alert_id=row.id, status=repo.SKIPPED, reason=f"{NO_LINK} ({BLOCKED})"
        )
    run.stats.skipped += len(item.rows)
