"""The order of the pipeline: collect → store → classify → intake → escalate → rate.

Each step commits per batch through app.jobs, and moves a status column, so a crash at
any point loses nothing and a restart resumes where it stopped.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from app import repository as app_repo
from app.context import AppContext
from app.models import active_classifier, gazetteer
from app.readahead import Classified, ReadAhead, classify_texts, read_ahead
from collectors import repository as collectors_repo
from collectors.base import Collector
from collectors.demo import DemoCollector
from core.models import AlertOutbox, Classification, Message
from core.types import RawMessage, StoreResult

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
    from incidents import intake

    stats = {"processed": 0, "incidents_new": 0, "merged": 0, "noise": 0, "failed": 0}
    model = active_classifier(ctx)
    # Replies to «Проблема решена?» in VK and e-mail are the citizen's verdict, not incidents.
    from app.feedback_replies import take_feedback_replies

    messages = take_feedback_replies(ctx, session, messages, now=now)
    if model is None or not messages:
        return stats
    places = gazetteer(ctx)
    if ahead is not None:
        classified = ahead.classify(model, places, messages)
    else:
        classified = classify_texts(model, places, [m.text for m in messages])
    settings = ctx.intake_settings

    def take(
        message: Message, values: Classified, batch: intake.IntakeBatch | None
    ) -> intake.IntakeResult:
        cls: intake.ClassificationView
        if batch is not None:  # one INSERT for the batch at its finish, statuses too
            batch.save_classification(_classification_row(message, values, model.version))
            batch.classified(message)
            cls = _view(values)
        else:
            cls = Classification(message_id=message.id, model_version=model.version, **values)
            session.add(cls)
            message.status = "classified"
        return intake.intake_message(
            session,
            message=message,
            classification=cls,
            settings=settings,
            calendar=ctx.calendar,
            now=now,
            batch=batch,
        )

    pairs = list(zip(messages, classified, strict=True))
    try:
        with session.begin_nested():
            batch = intake.IntakeBatch(session)
            results = [take(message, one, batch) for message, one in pairs]
            batch.finish()
    except Exception as exc:  # find the bad message: one savepoint per message
        log.warning("batch of %d failed (%s); retrying one by one", len(pairs), exc)
        for message in messages:  # the batch set states the rollback undid: read them again
            session.expire(message)
        results = []
        for message, one in pairs:
            try:
                with session.begin_nested():
                    results.append(take(message, one, None))
            except Exception as one:  # keep the batch going; the message keeps its error
                log.exception("message %s failed", message.id)
                message.status, message.error = "failed", f"{type(one).__name__}: {one}"[:2000]
                stats["failed"] += 1
    for result in results:
        stats["processed"] += 1
        key = (
            "noise" if result.incident is None else "incidents_new" if result.created else "merged"
        )
        stats[key] += 1
    return stats


def process_pending(ctx: AppContext, session: Session, now: datetime) -> dict[str, Any]:
    """One batch of the worker: claim new messages, classify them, take them in.

    A full batch means a backlog: the next batch goes to the classification helper now
    (app.readahead), to be ready when this one is written. Without a backlog (this runs
    every few seconds, with or without messages) a helper left idle too long is stopped.
    `more` tells the job wrapper to go on with another batch.
    """
    model = active_classifier(ctx)
    if model is None:
        return {"skipped": "нет обученной модели: выполните `mcu classifier train`"}
    messages = collectors_repo.claim_new_messages(session, limit=PROCESS_BATCH)
    ahead = read_ahead(ctx, model)
    more = len(messages) == PROCESS_BATCH
    if more:
        after = messages[-1].id
        ahead.prefetch(
            collectors_repo.peek_new_messages(session, after_id=after, limit=PROCESS_BATCH)
        )
    stats: dict[str, Any] = process_messages(ctx, session, messages, now=now, ahead=ahead)
    if not more:
        ahead.stop_if_idle()
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
