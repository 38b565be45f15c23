"""In-process scheduling (APScheduler 3): jobs live in memory, guards live in the database."""

from __future__ import annotations

import gc
import logging
import signal
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.util import undefined
from sqlalchemy.orm import Session

from app.collect import collect_all
from app.context import AppContext
from app.jobs import JobBody, run_guarded, run_once_per_occurrence
from app.models import active_classifier, gazetteer
from app.overlap import run_intake
from app.pipeline import (
    collect_demo,
    deliver_alerts,
    escalate,
    process_pending,
    weekly_rating,
)
from app.publish import deliver_published

log = logging.getLogger("mcu.scheduler")
DAILY_HOUR = 9  # local time of the coordinator's digest and the head's summary
WEEKLY_HOUR = 9  # Monday, local time of the head's weekly rating
MISFIRE_GRACE_SECONDS = 3600  # a busy scheduler still runs the 09:00 reports within the hour
# A batch job's run ends after this long even with a backlog, and is started again at once:
# runs stay short (a log line, a shutdown waits at most this and one batch) while the backlog
# is worked off without pauses. Not shorter: within a run one batch is written while the next
# is decided (app.overlap), but a run's first decisions and last write overlap nothing — with
# 2 s that was one batch in four (the intake bench: ~1,900 → ~2,400–2,900 msg/s with 10 s).
BATCH_RUN_SECONDS = 10.0


@dataclass(frozen=True)
class IntervalJob:
    name: str
    seconds: int
    body: JobBody
    demo_only: bool = False
    # Intake: one transaction per batch (app.overlap), again at once while `more` is reported.
    batches: bool = False


JOBS: tuple[IntervalJob, ...] = (
    IntervalJob("demo_stream", 15, collect_demo, demo_only=True),
    IntervalJob("collect_sources", 30, collect_all),
    IntervalJob("process_messages", 5, process_pending, batches=True),
    # Every 30 s: an overdue incident reaches Telegram within ~35 s (target: under 60 s).
    IntervalJob("escalation", 30, escalate),
    IntervalJob("deliver_alerts", 5, deliver_alerts),
    IntervalJob("deliver_answers", 30, deliver_published),
)


def _enabled(ctx: AppContext) -> list[IntervalJob]:
    return [job for job in JOBS if ctx.settings.demo_mode or not job.demo_only]


def weekly_rating_occurrence(now: datetime, tz: str) -> str:
    """The ISO week the Monday job reports on: the week that just ended."""
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo(tz)) - timedelta(days=7)
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def weekly_report_due(now: datetime, tz: str) -> bool:
    """Whether the report on `weekly_rating_occurrence` is due: any time but Monday before 9.

    A worker that starts (or was down) after Monday 09:00 sends the missed report at once
    instead of a week late; before 09:00 on Monday the week that "just ended" is not yet
    the one to report.
    """
    from zoneinfo import ZoneInfo

    local = now.astimezone(ZoneInfo(tz))
    return local.weekday() != 0 or local.hour >= WEEKLY_HOUR


def run_weekly_rating(ctx: AppContext) -> dict[str, Any]:
    """The Monday 09:00 report; runs once per week however many workers there are."""
    now = datetime.now(UTC)
    week = weekly_rating_occurrence(now, ctx.tz)
    return run_once_per_occurrence(ctx, "weekly_rating", week, weekly_rating, now=now)


def daily_occurrence(now: datetime, tz: str) -> str:
    """The local date the 09:00 reports are for (one run per day)."""
    from zoneinfo import ZoneInfo

    return now.astimezone(ZoneInfo(tz)).date().isoformat()


def coordinator_digest(ctx: AppContext, session: Session, now: datetime) -> dict[str, Any]:
    """Queue the coordinators' daily digest."""
    from alerts.daily import queue_coordinator_digest

    return queue_coordinator_digest(session, now=now, tz=ctx.tz)


def head_summary(ctx: AppContext, session: Session, now: datetime) -> dict[str, Any]:
    """Queue the head's daily summary."""
    from alerts.daily import queue_head_summary

    return queue_head_summary(session, now=now, tz=ctx.tz)


DAILY_JOBS: tuple[tuple[str, JobBody], ...] = (
    ("coordinator_digest", coordinator_digest),
    ("head_summary", head_summary),
)


def run_daily_reports(ctx: AppContext, *, now: datetime | None = None) -> dict[str, Any]:
    """The 09:00 reports; each runs once per local day however many workers there are."""
    now = now or datetime.now(UTC)
    day = daily_occurrence(now, ctx.tz)
    return {
        name: run_once_per_occurrence(ctx, name, day, body, now=now) for name, body in DAILY_JOBS
    }


def run_job(ctx: AppContext, job: IntervalJob) -> dict[str, Any]:
    """One run of an interval job: one guarded transaction, or a bounded series of batches."""
    if job.batches:  # the intake job, `process_pending` in batches (overlapped on PostgreSQL)
        return run_intake(ctx, budget_seconds=BATCH_RUN_SECONDS)
    return run_guarded(ctx, job.name, job.body)


def run_all_once(ctx: AppContext) -> dict[str, Any]:
    """Every due job one time, in pipeline order (for cron, tests and debugging)."""
    return {job.name: run_job(ctx, job) for job in _enabled(ctx)}


def _safe(ctx: AppContext, job: IntervalJob) -> dict[str, Any]:
    try:
        result = run_job(ctx, job)
        # A job with nothing to do (or no token configured) stays quiet at INFO level.
        quiet = not any(result.values()) or set(result) == {"skipped"}
        log.log(logging.DEBUG if quiet else logging.INFO, "%s: %s", job.name, result)
        return result
    except Exception:  # keep the scheduler alive; the failure is logged with its traceback
        log.exception("job %s failed", job.name)
        return {}


def _again_when_behind(scheduler: BackgroundScheduler) -> None:
    """A batch job that stopped with work left runs again at once, not at its next tick."""

    def listener(event: JobExecutionEvent) -> None:
        # The executor has counted the run as finished before telling listeners, so the
        # re-run is not refused by max_instances.
        if isinstance(event.retval, dict) and event.retval.get("more"):
            scheduler.modify_job(event.job_id, next_run_time=datetime.now(UTC))

    scheduler.add_listener(listener, EVENT_JOB_EXECUTED)


def prepare_process(ctx: AppContext) -> None:
    """Start-up of a worker process: load the model and gazetteer, and take what is loaded by
    now out of the garbage collector's full passes.

    The classification helper process (app.readahead, a second copy of the model) is not
    started here: the first full batch — a backlog — starts it, so a quiet install runs one
    process.
    """
    active_classifier(ctx)
    gazetteer(ctx)
    # The model, gazetteer and config live as long as the process: gc.freeze keeps every
    # later full collection from walking them again.
    gc.collect()
    gc.freeze()


def start_background(ctx: AppContext) -> BackgroundScheduler:
    """Start the scheduler in background threads of this process."""
    scheduler = BackgroundScheduler(timezone=ctx.tz)
    _again_when_behind(scheduler)
    for job in _enabled(ctx):
        scheduler.add_job(
            _safe,
            "interval",
            seconds=job.seconds,
            args=(ctx, job),
            id=job.name,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
    scheduler.add_job(
        run_weekly_rating,
        CronTrigger(day_of_week="mon", hour=WEEKLY_HOUR, minute=0, timezone=ctx.tz),
        args=(ctx,),
        id="weekly_rating",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=MISFIRE_GRACE_SECONDS,
        # Catch up at start when this week's report is missing (a no-op when it was sent).
        next_run_time=(
            datetime.now(UTC) if weekly_report_due(datetime.now(UTC), ctx.tz) else undefined
        ),
    )
    scheduler.add_job(
        run_daily_reports,
        CronTrigger(hour=DAILY_HOUR, minute=0, timezone=ctx.tz),
        args=(ctx,),
        id="daily_reports",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=MISFIRE_GRACE_SECONDS,
    )
    scheduler.start()
    return scheduler


def run_forever(ctx: AppContext) -> None:
    """Run the worker until SIGINT/SIGTERM."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    prepare_process(ctx)
    scheduler = start_background(ctx)
    log.info("worker started: %s", ", ".join(job.name for job in _enabled(ctx)))
    stop.wait()
    scheduler.shutdown(wait=True)
    helper = ctx.cache.get("readahead")
    if helper is not None:
        helper.close()
