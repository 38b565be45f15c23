"""The order of the pipeline: collect → store → classify → intake → escalate → rate.

Each step commits per batch through app.jobs, and moves a status column, so a crash at
any point loses nothing and a restart resumes where it stopped.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session, SessionTransaction

from app import repository as app_repo
from app.context import AppContext
from app.models import active_classifier, gazetteer
from app.readahead import Classified, Read, ReadAhead, classify_texts, read_ahead
from collectors import repository as collectors_repo
from collectors.base import Collector
from collectors.demo import DemoCollector
from core.models import AlertOutbox, Classification, Message
from core.types import RawMessage, StoreResult

if TYPE_CHECKING:
    from incidents.batch import Carry, IntakeBatch
    from incidents.intake import ClassificationView, IntakeResult

log = logging.getLogger("mcu.pipeline")
# Messages per transaction of the intake job: per-batch lookups (duplicate candidates of each
# block) are shared by more messages; a failing batch is retried message by message.
PROCESS_BATCH = 1000


def store_batch(
    session: Session, *, collector: Collector, source_name: str, now: datetime
) -> StoreResult:
    """One pass of a collector: fetch since the cursor, store idempotently, move the cursor."""
    control = collectors_repo.ensure_source(session, name=source_name, kind=collector.kind)
    batch = collector.fetch(cursor=dict(control.cursor or {}), now=now)
    by_source: dict[str, list[RawMessage]] = defaultdict(list)
    for msg in batch.messages:
        by_source[msg.source].append(msg)
    stored = duplicates = 0
    for name, messages in by_source.items():
        kind = name.removeprefix("demo-") if name.startswith("demo-") else collector.kind
        target = collectors_repo.ensure_source(
            session, name=name, kind=kind, settings={"demo": collector.kind == "demo"}
        )
        new, dup = collectors_repo.store_messages(
            session, source=target, messages=messages, now=now
        )
        if target is not control:  # the control source is recorded once, below
            collectors_repo.record_success(
                session,
                source=target,
                cursor=target.cursor,
                fetched=len(messages),
                stored=new,
                now=now,
            )
        stored, duplicates = stored + new, duplicates + dup
    collectors_repo.record_success(
        session,
        source=control,
        cursor=batch.cursor,
        fetched=len(batch.messages),
        stored=stored,
        now=now,
    )
    return StoreResult(len(batch.messages), stored, duplicates, batch.errors)


def collect_demo(ctx: AppContext, session: Session, now: datetime) -> dict[str, Any]:
    """The demo stream's pass."""
    collector = DemoCollector(
        rate_per_minute=ctx.settings.demo_rate_per_minute, secret=ctx.settings.secret_key
    )
    return store_batch(session, collector=collector, source_name="demo", now=now).to_dict()


@dataclass(frozen=True, slots=True)
class _Classified:
    """What intake reads of a classification its batch writes at the end."""

    block_code: str
    noise: bool
    urgent: bool
    needs_review: bool
    place: dict[str, Any]


def _view(values: Classified) -> _Classified:
    return _Classified(
        values["block_code"],
        values["noise"],
        values["urgent"],
        values["needs_review"],
        values["place"],
    )


def _classification_row(message: Message, values: Classified, version: str) -> dict[str, Any]:
    """The whole row (every column, as one INSERT of the batch needs them)."""
    return values | {
        "message_id": message.id,
        "model_version": version,
        "corrected_by": None,
        "created_at": datetime.now(UTC),
    }


class InFlight(Protocol):
    """The batch before this one, decided and still being written (app.overlap)."""

    def carry(self) -> Carry | None:
        """What it writes, for duplicate search; None once it is written (or if none)."""

    def last_claimed(self) -> int:
        """The id of its last claimed message (0 if none)."""

    def settle(self) -> None:
        """Wait until it is written: before this batch writes anything of its own."""


@dataclass(slots=True)
class DecidedBatch:
    """A batch of intake decided in its savepoint, to be written by `write_decided`.

    `batch` is None when there is nothing left to write: no message, or the decisions failed
    and the messages were taken one by one at once. `carried` tells that the decisions saw
    the batch in flight through its carry, so they stand only if that batch is written as
    decided.
    """

    session: Session
    take: _Take
    pairs: list[tuple[Message, Read]]  # a message, its classification and any text facts
    batch: IntakeBatch | None = None
    savepoint: SessionTransaction | None = None
    results: list[IntakeResult] = field(default_factory=list)
    failed: int = 0
    taken_one_by_one: bool = False
    carried: bool = False
    last_claimed: int = 0  # the id of the batch's last claimed message

    def carry(self) -> Carry | None:
        """What the next batch must lay over the database until this one is committed."""
        return self.batch.carry() if self.batch is not None else None


class _Take:
    """Classification row and intake of one message, in the batch or in a savepoint alone."""

    def __init__(self, ctx: AppContext, session: Session, version: str, now: datetime) -> None:
        from incidents import intake

        self.session, self.version, self.now = session, version, now
        self.intake_message = intake.intake_message
        # Once per batch: the settings are built from the configuration on each read.
        self.settings, self.calendar = ctx.intake_settings, ctx.calendar

    def __call__(
        self,
        message: Message,
        read: Read,
        batch: IntakeBatch | None,
        view: ClassificationView | None = None,
    ) -> IntakeResult:
        """`view`: `_view` of the read's values, if made already."""
        values, text = read
        cls: ClassificationView
        if batch is not None:  # one INSERT for the batch at its finish, statuses too
            batch.save_classification(_classification_row(message, values, self.version))
            batch.classified(message)
            cls = view if view is not None else _view(values)
        else:
            cls = Classification(message_id=message.id, model_version=self.version, **values)
            self.session.add(cls)
            message.status = "classified"
        return self.intake_message(
            self.session,
            message=message,
            classification=cls,
            settings=self.settings,
            calendar=self.calendar,
            now=self.now,
            batch=batch,
            text=text,
        )


def decide_messages(
    ctx: AppContext,
    session: Session,
    messages: list[Message],
    *,
    now: datetime,
    ahead: ReadAhead | None = None,
    in_flight: InFlight | None = None,
) -> DecidedBatch:
    """Classify messages and decide their intake in one savepoint and `IntakeBatch`.

    Nothing of the batch is written yet (its finish is `write_decided`'s), except the new
    incidents' ids, taken from the sequence. With `in_flight`, the batch before is still
    being written: its carry is laid over the database, and anything that writes at once
    (citizens' verdict replies, the one-by-one fallback) waits for it first.
    """
    from incidents import intake

    model = active_classifier(ctx)
    take = _Take(ctx, session, model.version if model is not None else "", now)
    # Replies to «Проблема решена?» in VK and e-mail are the citizen's verdict, not incidents.
    from app.feedback_replies import find_replies, take_feedback_replies

    replies = find_replies(session, messages)
    if replies and in_flight is not None:
        in_flight.settle()  # a verdict may reopen an incident the batch in flight locks
    messages = take_feedback_replies(ctx, session, messages, now=now, replies=replies)
    if model is None or not messages:
        return DecidedBatch(session, take, [])
    places = gazetteer(ctx)
    classified: list[Read]
    if ahead is not None:
        classified = ahead.classify(model, places, messages)
    else:
        here = classify_texts(model, places, [m.text for m in messages])
        classified = [(one, None) for one in here]
    decided = DecidedBatch(session, take, list(zip(messages, classified, strict=True)))
    carry = in_flight.carry() if in_flight is not None else None
    decided.savepoint = session.begin_nested()
    try:
        decided.batch = intake.IntakeBatch(session, carry=carry)
        views = [_view(values) for _, (values, _) in decided.pairs]
        intake.preload_candidates(
            decided.batch,
            zip(messages, views, strict=True),
            settings=take.settings,
            now=now,
        )
        decided.results = [
            take(message, read, decided.batch, view)
            for (message, read), view in zip(decided.pairs, views, strict=True)
        ]
        decided.batch.seal()
        decided.carried = carry is not None
    except Exception as exc:
        decided.savepoint.rollback()
        decided.batch = decided.savepoint = None
        if in_flight is not None:
            in_flight.settle()
        _one_by_one(decided, exc)
    return decided


def write_decided(decided: DecidedBatch) -> dict[str, int]:
    """Write a decided batch (its finish) in its savepoint; one bad message fails alone.

    If the finish fails, the savepoint is rolled back and the messages are taken again one
    per savepoint, so only the bad one is failed. Commit is the caller's.
    """
    batch, savepoint = decided.batch, decided.savepoint
    if batch is not None and savepoint is not None:
        try:
            batch.finish()
            savepoint.commit()
        except Exception as exc:
            savepoint.rollback()
            _one_by_one(decided, exc)
        decided.batch = decided.savepoint = None
    stats = {"processed": 0, "incidents_new": 0, "merged": 0, "noise": 0}
    for result in decided.results:
        stats["processed"] += 1
        key = (
            "noise" if result.incident is None else "incidents_new" if result.created else "merged"
        )
        stats[key] += 1
    return stats | {"failed": decided.failed}


def _one_by_one(decided: DecidedBatch, exc: Exception) -> None:
    """The batch failed (`exc`): take its messages again, one savepoint each."""
    log.warning("batch of %d failed (%s); retrying one by one", len(decided.pairs), exc)
    session = decided.session
    for message, _ in decided.pairs:  # the batch set states the rollback undid: read them again
        session.expire(message)
    decided.results, decided.taken_one_by_one = [], True
    for message, one in decided.pairs:
        try:
            with session.begin_nested():
                decided.results.append(decided.take(message, one, None))
        except Exception as error:  # keep the batch going; the message keeps its error
            log.exception("message %s failed", message.id)
            message.status, message.error = "failed", f"{type(error).__name__}: {error}"[:2000]
            decided.failed += 1


def process_messages(
    ctx: AppContext,
    session: Session,
    messages: list[Message],
    *,
    now: datetime,
    ahead: ReadAhead | None = None,
) -> dict[str, int]:
    """Classify messages and turn them into incidents; one bad message fails alone.

    The whole batch goes through intake in one savepoint with one `IntakeBatch` (lookups
    once, writes together at its finish). If anything in it fails, the savepoint is rolled
    back and the messages are taken again one per savepoint, so only the bad one is failed.
    With `ahead`, what its helper process classified already is taken from there.
    """
    return write_decided(decide_messages(ctx, session, messages, now=now, ahead=ahead))


def claim_and_decide(
    ctx: AppContext, session: Session, now: datetime, *, in_flight: InFlight | None = None
) -> tuple[DecidedBatch, bool]:
    """Claim new messages and decide them; and whether a backlog is left (`more`).

    A full batch means a backlog: the next batch goes to the classification helper now
    (app.readahead), to be ready when this one is written. Without a backlog (this runs
    every few seconds, with or without messages) a helper left idle too long is stopped.
    """
    model = active_classifier(ctx)
    assert model is not None, "the caller checks that a model is trained"
    after = in_flight.last_claimed() if in_flight is not None else 0
    messages = collectors_repo.claim_new_messages(session, limit=PROCESS_BATCH, after_id=after)
    ahead = read_ahead(ctx, model)
    more = len(messages) == PROCESS_BATCH
    if more:
        after = messages[-1].id
        ahead.prefetch(
            collectors_repo.peek_new_messages(session, after_id=after, limit=PROCESS_BATCH)
        )
    decided = decide_messages(ctx, session, messages, now=now, ahead=ahead, in_flight=in_flight)
    decided.last_claimed = messages[-1].id if messages else after
    if not more:
        ahead.stop_if_idle()
    return decided, more


NO_MODEL = {"skipped": "нет обученной модели: выполните `mcu classifier train`"}


def process_pending(ctx: AppContext, session: Session, now: datetime) -> dict[str, Any]:
    """One batch of the worker: claim new messages, classify them, take them in.

    `more` tells the job wrapper to go on with another batch.
    """
    if active_classifier(ctx) is None:
        return dict(NO_MODEL)
    decided, more = claim_and_decide(ctx, session, now)
    stats: dict[str, Any] = write_decided(decided)
    return stats | {"more": more}


def escalate(ctx: AppContext, session: Session, now: datetime) -> dict[str, Any]:
    """Reminders, overdue alerts and escalations for slipping incidents."""
    from incidents.escalation import run_escalation

    total = {"scanned": 0, "escalated": 0, "alerts": 0}
    after_id, limit = 0, 500
    while True:
        stats = run_escalation(
            session,
            now=now,
            calendar=ctx.calendar,
            settings=ctx.escalation_settings,
            limit=limit,
            after_id=after_id,
        )
        for key in total:
            total[key] += getattr(stats, key)
        if stats.scanned < limit:
            return total
        after_id = stats.last_id


def deliver_alerts(ctx: AppContext, session: Session, now: datetime) -> dict[str, Any]:
    """Send due outbox rows to Telegram, paced per chat and globally."""
    from alerts.digest import DigestOptions
    from alerts.ratelimit import RateLimiter
    from alerts.service import DeliveryOptions, run_delivery_job

    # One limiter per process, so the pace carries over between runs of the job.
    limiter = ctx.cache.setdefault("alerts_limiter", RateLimiter())
    # Sector heads get non-urgent new incidents as one digest per MCU_ALERTS_DIGEST_MINUTES.
    digest = DigestOptions(interval_minutes=ctx.settings.alerts_digest_minutes)
    return run_delivery_job(
        session,
        token=ctx.settings.telegram_token,
        api_base=ctx.settings.telegram_api_base,
        now=now,
        limiter=limiter,
        options=DeliveryOptions(base_url=ctx.settings.base_url, tz=ctx.tz, digest=digest),
    )


def weekly_rating(ctx: AppContext, session: Session, now: datetime) -> dict[str, Any]:
    """Publish last week's rating, write its PDF/XLSX and queue the head's message (weekly)."""
    from app.reports import write_weekly_reports
    from app.scheduler import weekly_rating_occurrence
    from rating import service as rating_service
    from rating.serialize import page_dict

    week = weekly_rating_occurrence(now, ctx.tz)
    result = rating_service.publish_snapshot(
        session, week=week, calendar=ctx.calendar, weights=ctx.rating_config, now=now
    )
    page = page_dict(result)
    ranked = [u for u in page["units"] if u["rank"] is not None]
    payload = {
        "week": week,
        "period": page["period"],
        "top": [{k: u[k] for k in ("rank", "department", "index")} for u in ranked[:5]],
        "unranked": len(page["units"]) - len(ranked),
    }
    # The alerts job sends the PDF after the text (alerts may not import rating).
    payload |= write_weekly_reports(result, week=week, folder=ctx.settings.var_dir / "reports")
    heads = app_repo.users_with_role(session, role="head")
    for head in heads:
        session.add(
            AlertOutbox(
                kind="weekly_rating",
                dedupe_key=f"rating:{week}:{head.id}",
                user_id=head.id,
                payload=payload,
                next_attempt_at=now,
            )
        )
    return {"week": week, "units": len(result.units), "sent_to": len(heads)}
