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

Digests (alerts.digest): a sector head's non-urgent `new_incident` rows are claimed together
once the oldest is an interval old and go out as one message; that message settles all of
them in one commit, so a crash repeats at most that one digest. The weekly rating row sends
its text, records that in the payload (commit), then sends the PDF report as a file.

Row states: pending → sending → sent; failed (transient error, retried with backoff);
dead (gave up: blocked bot, too many failures); skipped (nothing to deliver by design:
no recipient, no active Telegram link, account disabled, incident already closed).
Skipped alerts are not replayed when the user links Telegram later: they would be stale.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from alerts import repository as repo
from alerts import run as outcome
from alerts.base import Forbidden, Notifier, RetryAfter, TransientError
from alerts.digest import DIGEST_KIND, format_new_digest
from alerts.format import AlertMessage, FormatContext, format_alert
from alerts.format_daily import DAILY_FORMATTERS
from alerts.ratelimit import Limiter, RateLimiter
from alerts.run import (
    BAD_PAYLOAD,
    BLOCKED,
    CLOSED,
    NO_LINK,
    NO_USER,
    TOO_MANY,
    USER_DISABLED,
    DeliveryOptions,
    DeliveryStats,
    Item,
    Run,
    Sleep,
)
from core.models import OPEN_STATUSES, AlertOutbox

__all__ = [
    "BAD_PAYLOAD",
    "BLOCKED",
    "CLOSED",
    "NO_LINK",
    "NO_USER",
    "TEXT_SENT",
    "TOO_MANY",
    "USER_DISABLED",
    "DeliveryOptions",
    "DeliveryStats",
    "deliver_due",
    "run_delivery_job",
]

Sessions = Session | sessionmaker[Session]
WEEKLY_KIND = "weekly_rating"
TEXT_SENT = "text_sent"  # payload flag: the weekly text went out, only the PDF is left


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
    """Deliver up to `limit` due alerts (and digests); commits the claim, then each message."""
    with _open(sessions) as session:
        bind = session.get_bind()
        lock = repo.delivery_lock(bind) if isinstance(bind, Engine) else _always()
        with lock as got:
            if not got:
                return DeliveryStats(locked=True)
            run = Run(
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


def _claim(run: Run, *, limit: int) -> list[list[AlertOutbox]]:
    """Lease due rows one by one and digest rows per user; commit the claim."""
    session, options = run.session, run.options
    single = repo.claim_due(session, now=run.now, limit=limit, lease=options.lease)
    digests = repo.claim_digests(
        session, now=run.now, window=options.digest.window, lease=options.lease, users=limit
    )
    session.commit()  # the claim is durable before anything leaves
    run.stats.claimed = len(single) + len(digests)
    by_user: dict[int | None, list[AlertOutbox]] = {}
    for row in digests:
        by_user.setdefault(row.user_id, []).append(row)
    return [[row] for row in single] + list(by_user.values())


async def _deliver(run: Run, *, limit: int) -> None:
    session = run.session
    groups = _claim(run, limit=limit)
    if not groups:
        return
    rows = [row for group in groups for row in group]
    people = repo.recipients(session, user_ids=[r.user_id for r in rows if r.user_id])
    statuses = repo.incident_statuses(
        session, incident_ids=[r.incident_id for r in rows if r.incident_id]
    )
    ctx = FormatContext(run.options.base_url, run.options.tz, repo.block_names(session))
    items = []
    for group in groups:
        item = _admit(run, group, people.get(group[0].user_id or 0), statuses, ctx)
        if item is not None:
            items.append(item)
    session.commit()
    await _send_paced(run, items)


def _admit(
    run: Run,
    group: list[AlertOutbox],
    person: repo.Recipient | None,
    statuses: dict[int, str],
    ctx: FormatContext,
) -> Item | None:
    """Skip, give up or postpone what must not go now; the item for the rest."""
    live = []
    for row in group:
        reason = _skip_reason(row, person, statuses)
        if reason is not None:
            repo.mark_final(run.session, alert_id=row.id, status=repo.SKIPPED, reason=reason)
            run.stats.skipped += 1
        elif not outcome.given_up(run, row):
            live.append(row)
    if not live or person is None or outcome.postponed(run, live, person):
        return None
    return _prepare(run, live, person.chat_id or 0, ctx)


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


def _prepare(run: Run, rows: list[AlertOutbox], chat_id: int, ctx: FormatContext) -> Item | None:
    """The item for the rows; a payload that cannot be formatted kills only its rows."""
    try:
        return _compose(run, rows, chat_id, ctx)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        reason = f"{BAD_PAYLOAD}: {type(exc).__name__}: {exc}"
        for row in rows:
            repo.mark_final(run.session, alert_id=row.id, status=repo.DEAD, reason=reason)
        run.stats.dead += len(rows)
        return None


def _compose(run: Run, rows: list[AlertOutbox], chat_id: int, ctx: FormatContext) -> Item:
    row = rows[0]
    if row.kind == DIGEST_KIND and not row.urgent:
        payloads = [r.payload for r in rows]
        message = format_new_digest(payloads, window=run.options.digest.window, ctx=ctx)
        return Item(rows, chat_id, message)
    daily = DAILY_FORMATTERS.get(row.kind)
    if daily is not None:
        return Item(rows, chat_id, daily(row.payload, ctx))
    message = format_alert(
        kind=row.kind, payload=row.payload, urgent=row.urgent, now=run.now, ctx=ctx
    )
    if row.kind == WEEKLY_KIND:
        return _weekly(rows, chat_id, message)
    return Item(rows, chat_id, message)


def _report_file(path: object) -> tuple[str, bytes] | None:
    """The report file named in the payload, if it can be read now."""
    if not isinstance(path, str) or not path:
        return None
    try:
        return Path(path).name, Path(path).read_bytes()
    except OSError:
        return None


def _weekly(rows: list[AlertOutbox], chat_id: int, message: AlertMessage) -> Item:
    """The head's weekly text, followed by the PDF report when the file is there."""
    payload = rows[0].payload
    report = _report_file(payload.get("report_pdf"))
    if report is None:
        return Item(rows, chat_id, message)
    caption = f"Отчёт о рейтинге отделов за неделю {payload.get('week') or ''} (PDF)".strip()
    document = Item(rows, chat_id, AlertMessage(caption), document=report)
    if payload.get(TEXT_SENT):
        return document
    return Item(rows, chat_id, message, then=document)


async def _send_paced(run: Run, items: list[Item]) -> None:
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
            follow = await _send_one(run, item)
            if follow is not None:
                pending.insert(0, follow)
            continue
        shortest = min(waits)
        late = [i for i, w in enumerate(waits) if w > run.options.max_wait]
        if run.clock() + shortest > deadline:
            late = list(range(len(pending)))
        if late:
            outcome.defer(run, [pending[i] for i in late], [waits[i] for i in late])
            gone = set(late)
            pending = [item for i, item in enumerate(pending) if i not in gone]
            continue
        await run.sleep(shortest)


async def _transmit(notifier: Notifier, item: Item) -> None:
    if item.document is None:
        await notifier.send(item.chat_id, item.message.text, item.message.buttons)
        return
    name, data = item.document
    await notifier.send_document(item.chat_id, data=data, filename=name, caption=item.message.text)


async def _send_one(run: Run, item: Item) -> Item | None:
    """Send one item and commit its outcome (the only window for a duplicate).

    Returns the part to send next (the weekly PDF), its rows still leased.
    """
    session = run.session
    if item.user_id in run.blocked:
        outcome.skipped_blocked(run, item)
        session.commit()
        return None
    try:
        await _transmit(run.notifier, item)
    except RetryAfter as exc:
        outcome.retry_after(run, item, exc)
    except Forbidden as exc:
        outcome.forbidden(run, item, exc)
    except TransientError as exc:
        outcome.failed(run, item, exc)
    else:
        if item.then is not None:
            for row in item.rows:
                repo.set_payload(session, alert_id=row.id, payload=row.payload | {TEXT_SENT: True})
            session.commit()
            return item.then
        first = item.rows[0]
        outcome.sent(run, item, digest=first.kind == DIGEST_KIND and not first.urgent)
    session.commit()
    return None


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
