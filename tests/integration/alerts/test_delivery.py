"""Outbox delivery through real aiogram to the fake Bot API (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from alerts import service
from alerts.format import FormatContext, format_alert
from alerts.ratelimit import RateLimiter
from alerts.service import DeliveryOptions, DeliveryStats, deliver_due
from core.models import Incident
from tests.integration.alerts.conftest import (
    BASE_URL,
    EXEC_CHAT,
    HEAD_CHAT,
    NOW,
    TZ,
    FakeClock,
    World,
    make_notifier,
)
from tests.integration.alerts.fake_bot_api import BLOCKED, SERVER_ERROR, FakeBotApi, too_many

OPTIONS = DeliveryOptions(base_url=BASE_URL, tz=TZ)


def deliver(
    world: World,
    clock: FakeClock,
    *,
    now: datetime = NOW,
    limiter: RateLimiter | None = None,
    options: DeliveryOptions = OPTIONS,
    sessions: Any = None,
) -> DeliveryStats:
    """One delivery run with a fresh aiogram Bot, closed afterwards."""

    async def go() -> DeliveryStats:
        async with make_notifier() as notifier:
            return await deliver_due(
                sessions or world.sessions,
                notifier=notifier,
                now=now,
                limiter=limiter or RateLimiter(clock=clock),
                options=options,
                clock=clock,
                sleep=clock.sleep,
            )

    return asyncio.run(go())


def test_pending_rows_arrive_with_exact_text_and_buttons_urgent_first(
    world: World, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    normal = world.alert(user_id=world.executor_id, kind="assigned")
    urgent = world.alert(user_id=world.head_id, kind="urgent", urgent=True)

    stats = deliver(world, clock)

    assert (stats.claimed, stats.sent) == (2, 2)
    first, second = fake_api.sent()
    assert (first.params["chat_id"], second.params["chat_id"]) == (HEAD_CHAT, EXEC_CHAT)
    row = world.row(normal)
    expected = format_alert(
        kind="assigned",
        payload=row.payload,
        urgent=False,
        now=NOW,
        ctx=FormatContext(BASE_URL, TZ, {"housing": "Жилищно-коммунальное хозяйство"}),
    )
    assert second.params["text"] == expected.text
    assert "Нет воды &lt;b&gt;в доме&lt;/b&gt; &amp; &quot;подвал&quot;" in expected.text
    assert second.params["parse_mode"] == "HTML"
    iid = world.incident_id
    assert second.params["reply_markup"] == {
        "inline_keyboard": [
            [
                {"text": "Принять", "callback_data": f"acc:{iid}"},
                {"text": "Назначить исполнителя", "callback_data": f"asg:{iid}"},
            ],
            [{"text": "Открыть", "url": f"{BASE_URL}/incidents/{iid}"}],
        ]
    }
    for alert_id in (normal, urgent):
        done = world.row(alert_id)
        assert (done.status, done.attempts, done.last_error) == ("sent", 1, None)
        assert done.sent_at is not None


def test_per_chat_spacing_lets_other_chats_overtake(
    world: World, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    for _ in range(3):
        world.alert(user_id=world.executor_id)
    world.alert(user_id=world.head_id)

    stats = deliver(world, clock)

    assert stats.sent == 4
    chats = [c.params["chat_id"] for c in fake_api.sent()]
    assert chats == [EXEC_CHAT, HEAD_CHAT, EXEC_CHAT, EXEC_CHAT]
    stamps = [c.stamp for c in fake_api.sent() if c.params["chat_id"] == EXEC_CHAT]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(stamps))  # type: ignore[operator]
    assert sum(clock.sleeps) == pytest.approx(2.0)


def test_a_chat_that_must_wait_too_long_is_left_to_the_next_run(
    world: World, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    ids = [world.alert(user_id=world.executor_id) for _ in range(4)]

    stats = deliver(world, clock, options=DeliveryOptions(base_url=BASE_URL, tz=TZ, max_run=1.5))

    assert (stats.sent, stats.deferred) == (2, 2)
    later = world.row(ids[3])
    assert (later.status, later.attempts) == ("pending", 0)
    assert later.next_attempt_at >= NOW + timedelta(seconds=1)


def test_429_requeues_without_counting_and_delivers_on_a_later_run(
    world: World, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    alert = world.alert(user_id=world.executor_id)
    fake_api.fail_next("sendMessage", too_many(3))

    stats = deliver(world, clock)

    assert (stats.sent, stats.retry_after) == (0, 1)
    row = world.row(alert)
    assert (row.status, row.attempts) == ("pending", 0)
    assert row.next_attempt_at >= NOW + timedelta(seconds=3)
    assert "429" in (row.last_error or "")
    assert deliver(world, clock, now=NOW + timedelta(seconds=1)).claimed == 0
    assert deliver(world, clock, now=NOW + timedelta(seconds=4)).sent == 1
    assert world.row(alert).status == "sent"
    assert len(fake_api.sent()) == 1


def test_403_deactivates_the_link_and_kills_the_alert(
    world: World, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    first = world.alert(user_id=world.executor_id)
    second = world.alert(user_id=world.executor_id)
    fake_api.fail_next("sendMessage", BLOCKED)

    stats = deliver(world, clock)

    assert (stats.dead, stats.skipped, stats.sent) == (1, 1, 0)
    dead = world.row(first)
    assert dead.status == "dead" and "заблокирован" in (dead.last_error or "")
    assert world.row(second).status == "skipped"
    link = world.link(world.executor_id)
    assert link is not None and not link.active and link.blocked_at is not None
    assert len(fake_api.of("sendMessage")) == 1


def test_other_errors_back_off_exponentially_then_die(
    world: World, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    alert = world.alert(user_id=world.executor_id)
    fake_api.fail_next("sendMessage", SERVER_ERROR, times=3)
    options = DeliveryOptions(base_url=BASE_URL, tz=TZ, max_attempts=3)

    assert deliver(world, clock, options=options).failed == 1
    row = world.row(alert)
    assert (row.status, row.attempts) == ("failed", 1)
    assert row.next_attempt_at == NOW + timedelta(seconds=20)
    assert "Internal Server Error" in (row.last_error or "")

    at = row.next_attempt_at
    assert deliver(world, clock, now=at, options=options).failed == 1
    assert world.row(alert).next_attempt_at == at + timedelta(seconds=40)

    assert deliver(world, clock, now=at + timedelta(seconds=40), options=options).dead == 1
    final = world.row(alert)
    assert (final.status, final.attempts) == ("dead", 3)
    assert len(fake_api.sent()) == 0


def _crashing_sessions(world: World, api: FakeBotApi) -> sessionmaker[Session]:
    """Sessions whose commit fails once, right after the second message reached the server."""
    state = {"crashed": False}

    class CrashingSession(Session):
        def commit(self) -> None:
            if len(api.sent()) == 2 and not state["crashed"]:
                state["crashed"] = True
                raise OperationalError("COMMIT", {}, Exception("server closed the connection"))
            super().commit()

    return sessionmaker(bind=world.session.get_bind(), class_=CrashingSession)


def test_crash_between_send_and_mark_repeats_only_the_in_flight_message(
    world: World, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    ids = [world.alert(user_id=u) for u in (world.executor_id, world.head_id, world.executor_id)]

    with pytest.raises(OperationalError):
        deliver(world, clock, sessions=_crashing_sessions(world, fake_api))
    assert [world.row(i).status for i in ids] == ["sent", "sending", "sending"]

    assert deliver(world, clock, now=NOW + timedelta(minutes=1)).claimed == 0  # leased
    stats = deliver(world, clock, now=NOW + OPTIONS.lease + timedelta(seconds=1))

    assert (stats.claimed, stats.sent) == (2, 2)
    assert [world.row(i).status for i in ids] == ["sent", "sent", "sent"]
    per_chat = [c.params["chat_id"] for c in fake_api.sent()]
    assert per_chat.count(HEAD_CHAT) == 2  # the in-flight one, once more
    assert per_chat.count(EXEC_CHAT) == 2  # each executor alert exactly once


def test_quiet_hours_postpone_normal_alerts_but_not_urgent(
    world: World, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    from core.models import User

    user = world.session.get(User, world.executor_id)
    assert user is not None
    user.quiet_from, user.quiet_to = "22:00", "08:00"
    world.session.commit()
    night = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)  # 23:00 in Vladivostok
    normal = world.alert(user_id=world.executor_id)
    urgent = world.alert(user_id=world.executor_id, kind="urgent", urgent=True)

    stats = deliver(world, clock, now=night)

    assert (stats.sent, stats.postponed) == (1, 1)
    assert world.row(urgent).status == "sent"
    held = world.row(normal)
    assert (held.status, held.attempts) == ("pending", 0)
    assert held.next_attempt_at == datetime(2026, 3, 10, 22, 0, tzinfo=UTC)  # 08:00 local
    assert deliver(world, clock, now=held.next_attempt_at).sent == 1


def test_unlinked_users_and_closed_incidents_are_skipped_with_a_reason(
    world: World, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    unlinked = world.alert(user_id=world.other_executor_id)
    linked = world.alert(user_id=world.executor_id)
    stats = deliver(world, clock)
    assert (stats.skipped, stats.sent) == (1, 1)
    row = world.row(unlinked)
    assert (row.status, row.last_error) == ("skipped", service.NO_LINK)
    assert world.row(linked).status == "sent"

    incident = world.session.get(Incident, world.incident_id)
    assert incident is not None
    incident.status = "closed"
    world.session.commit()
    late = world.alert(user_id=world.executor_id, kind="overdue")
    assert deliver(world, clock).skipped == 1
    assert world.row(late).last_error == service.CLOSED
    assert len(fake_api.sent()) == 1


def test_run_delivery_job_without_token_does_nothing(world: World) -> None:
    alert = world.alert(user_id=world.executor_id)
    result = service.run_delivery_job(
        world.session,
        token=None,
        api_base="http://127.0.0.1:9",
        now=NOW,
        limiter=RateLimiter(),
        options=OPTIONS,
    )
    assert "skipped" in result
    assert world.row(alert).status == "pending"


def test_run_delivery_job_delivers_through_settings(world: World, fake_api: FakeBotApi) -> None:
    world.alert(user_id=world.executor_id)
    result = service.run_delivery_job(
        world.session,
        token=fake_api.token,
        api_base=fake_api.base_url,
        now=NOW,
        limiter=RateLimiter(),
        options=OPTIONS,
    )
    assert result == {"claimed": 1, "sent": 1}
    assert [c.params["chat_id"] for c in fake_api.sent()] == [EXEC_CHAT]


def test_a_malformed_payload_kills_only_its_row(
    world: World, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    bad = world.alert(user_id=world.head_id)
    good = world.alert(user_id=world.executor_id)
    row = world.row(bad)
    row.payload = row.payload | {"due_at": "не дата"}
    world.session.commit()

    stats = deliver(world, clock)

    assert (stats.dead, stats.sent) == (1, 1)
    assert (world.row(bad).last_error or "").startswith(service.BAD_PAYLOAD)
    assert world.row(good).status == "sent"


def test_a_row_whose_runs_keep_crashing_is_given_up(
    world: World, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    alert = world.alert(user_id=world.executor_id)
    row = world.row(alert)
    row.status, row.attempts = "sending", OPTIONS.max_attempts
    world.session.commit()

    assert deliver(world, clock).dead == 1
    final = world.row(alert)
    assert final.status == "dead" and (final.last_error or "").startswith(service.TOO_MANY)
    assert fake_api.sent() == []
