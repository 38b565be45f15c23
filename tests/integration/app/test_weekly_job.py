"""The Monday job publishes last week's rating and queues one message per head, once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.format import FormatContext, format_alert
from app import pipeline
from app.context import AppContext
from app.demo import ensure_demo_users
from app.jobs import run_once_per_occurrence
from app.scheduler import weekly_rating_occurrence
from core.models import AlertOutbox, JobRun, RatingSnapshot

MONDAY_9 = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # Monday 10:00 in Амурзет


def test_occurrence_is_the_week_that_just_ended() -> None:
    assert weekly_rating_occurrence(MONDAY_9, "Asia/Vladivostok") == "2026-W47"


def test_weekly_job_runs_once_and_messages_the_head(
    app_ctx: AppContext, seeded_session: Session
) -> None:
    ensure_demo_users(seeded_session)
    seeded_session.commit()
    first = run_once_per_occurrence(
        app_ctx, "weekly_rating", "2026-W47", pipeline.weekly_rating, now=MONDAY_9
    )
    second = run_once_per_occurrence(
        app_ctx, "weekly_rating", "2026-W47", pipeline.weekly_rating, now=MONDAY_9
    )
    assert first["week"] == "2026-W47" and first["sent_to"] == 1
    assert "уже выполнен" in second["skipped"]
    seeded_session.expire_all()
    snapshot = seeded_session.scalar(
        select(RatingSnapshot).where(RatingSnapshot.week == "2026-W47")
    )
    assert snapshot is not None and snapshot.published_at is not None
    alerts = list(
        seeded_session.scalars(select(AlertOutbox).where(AlertOutbox.kind == "weekly_rating"))
    )
    assert len(alerts) == 1
    runs = list(seeded_session.scalars(select(JobRun).where(JobRun.job == "weekly_rating")))
    assert [r.status for r in runs] == ["done"]
    message = format_alert(
        kind="weekly_rating",
        payload=alerts[0].payload,
        urgent=False,
        now=MONDAY_9,
        ctx=FormatContext(base_url="https://mcu.example.ru"),
    )
    assert "Рейтинг отделов за неделю 2026-W47" in message.text
    assert "https://mcu.example.ru/rating?week=2026-W47" in message.text


def test_two_workers_racing_on_monday_send_one_report(
    app_ctx: AppContext, seeded_session: Session
) -> None:
    """Both workers' schedulers fire at 09:00: the unique job-run row lets one through.

    Threads stand in for the two processes: each has its own connection, and the guarantee
    lives in the database (the second insert waits on the first's unique key, then fails).
    """
    if app_ctx.engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL; SQLite has a single writer")
    ensure_demo_users(seeded_session)
    seeded_session.commit()
    start = threading.Barrier(2)

    def worker() -> dict[str, object]:
        start.wait(timeout=30)
        return run_once_per_occurrence(
            app_ctx, "weekly_rating", "2026-W47", pipeline.weekly_rating, now=MONDAY_9
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = [f.result(timeout=120) for f in [pool.submit(worker) for _ in range(2)]]
    assert sorted("skipped" in r for r in results) == [False, True]
    seeded_session.expire_all()
    alerts = seeded_session.scalars(select(AlertOutbox).where(AlertOutbox.kind == "weekly_rating"))
    assert len(list(alerts)) == 1
    runs = seeded_session.scalars(select(JobRun.status).where(JobRun.job == "weekly_rating"))
    assert list(runs) == ["done"]
