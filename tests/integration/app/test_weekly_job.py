"""The Monday job publishes last week's rating and queues one message per head, once."""

from __future__ import annotations

from datetime import UTC, datetime

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
