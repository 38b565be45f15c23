"""The 09:00 reports: the coordinator's digest and the head's summary, once a day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.context import AppContext
from app.scheduler import daily_occurrence, run_daily_reports
from core.models import AlertOutbox, Incident, JobRun, User
from tests.integration.alerts.conftest import FakeClock, World
from tests.integration.alerts.fake_bot_api import FakeBotApi
from tests.integration.alerts.test_delivery import deliver

MORNING = datetime(2026, 3, 9, 23, 0, tzinfo=UTC)  # 10.03 09:00 in Vladivostok
COORD_CHAT, HEAD_CHAT = 2001, 2002


# number, block, settlement, status, received / due / resolved (hours from MORNING)
CITY = (
    ("B", "roads", "с. Пузино", "in_progress", -72, -48, None),  # overdue two days
    ("C", "housing", "с. Пузино", "assigned", -23, -1, None),  # yesterday, overdue an hour
    ("D", "housing", "с. Амурзет", "resolved", -25, 0, -18),  # yesterday, before the 24 h
    ("E", "housing", None, "new", -0.5, 24, None),  # this morning, no place
)


def city(world: World) -> None:
    """CITY besides the world's new incident (received after 09:00, due later)."""
    for number, block, place, status, received, due, resolved in CITY:
        world.session.add(
            Incident(
                number=number,
                block_code=block,
                title=f"Инцидент {number}",
                settlement=place,
                status=status,
                sla_policy="portal",
                received_at=MORNING + timedelta(hours=received),
                due_at=MORNING + timedelta(hours=due),
                resolved_at=MORNING + timedelta(hours=resolved) if resolved else None,
            )
        )
    world.session.commit()


def test_the_reports_are_queued_once_a_day_however_often_the_job_runs(
    world: World, app_ctx: AppContext
) -> None:
    world.add_user("coord", "coordinator", chat=COORD_CHAT)
    world.add_user("glava", "head", chat=HEAD_CHAT)
    assert daily_occurrence(MORNING, app_ctx.tz) == "2026-03-10"

    first = run_daily_reports(app_ctx, now=MORNING)
    second = run_daily_reports(app_ctx, now=MORNING + timedelta(minutes=5))

    assert first["coordinator_digest"]["queued"] == 1
    assert first["head_summary"]["queued"] == 1
    assert all("уже выполнен" in second[name]["skipped"] for name in second)
    world.session.expire_all()
    kinds = world.session.scalars(select(AlertOutbox.kind).order_by(AlertOutbox.id))
    assert list(kinds) == ["coordinator_digest", "head_summary"]
    runs = world.session.scalars(select(JobRun.job).where(JobRun.status == "done"))
    assert sorted(runs) == ["coordinator_digest", "head_summary"]
    tomorrow = run_daily_reports(app_ctx, now=MORNING + timedelta(days=1))
    assert tomorrow["head_summary"]["queued"] == 1


def test_digest_and_summary_say_what_happened(
    world: World, app_ctx: AppContext, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    city(world)
    world.add_user("coord", "coordinator", chat=COORD_CHAT)
    world.add_user("glava", "head", chat=HEAD_CHAT)
    run_daily_reports(app_ctx, now=MORNING)

    stats = deliver(world, clock, now=MORNING)

    assert stats.sent == 2
    texts = {c.params["chat_id"]: c.params["text"].split("\n") for c in fake_api.sent()}
    digest = texts[COORD_CHAT]
    assert digest[:7] == [
        "<b>📋 Сводка МЦУ на 10.03.2026 09:00</b>",
        "Открыто: 4 (новые — 2, назначены — 1, в работе — 1)",
        "Новые за сутки: 2",
        "• Жилищно-коммунальное хозяйство — 2",
        "<b>Просрочено сейчас: 2</b>",
        "Дольше всех просрочены:",
        digest[6],
    ]
    assert "№B</a> · Дорожная деятельность · с. Пузино" in digest[6]
    assert digest[6].endswith("просрочено на 2 дн")
    assert "№C</a> · Жилищно-коммунальное хозяйство" in digest[7] and digest[7].endswith("на 1 ч")
    assert texts[HEAD_CHAT][:7] == [
        "<b>🗓 Итоги дня 09.03.2026</b>",
        "Поступило инцидентов: 2",
        "Решено: 1",
        "Просрочено сейчас: 2",
        "Проблемные места:",
        "1. с. Пузино — открыто 2, просрочено 2",
        "2. с. Амурзет — открыто 1, просрочено 0",
    ]


def test_quiet_hours_hold_the_daily_digest(
    world: World, app_ctx: AppContext, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    coord = world.add_user("coord", "coordinator", chat=COORD_CHAT)
    user = world.session.get(User, coord)
    assert user is not None
    user.quiet_from, user.quiet_to = "22:00", "09:30"
    world.session.commit()
    run_daily_reports(app_ctx, now=MORNING)

    assert deliver(world, clock, now=MORNING).postponed == 1
    assert fake_api.sent() == []
    assert deliver(world, clock, now=MORNING + timedelta(minutes=30)).sent == 1
    assert fake_api.sent()[0].params["text"].startswith("<b>📋 Сводка МЦУ на 10.03.2026 09:00")
