"""Sector heads' digest of new incidents through real aiogram to the fake Bot API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from alerts import service
from alerts.digest import format_new_digest
from alerts.format import FormatContext
from core.models import Incident, TelegramLink, User
from tests.integration.alerts.conftest import (
    BASE_URL,
    EXEC_CHAT,
    HEAD_CHAT,
    NOW,
    TZ,
    FakeClock,
    World,
)
from tests.integration.alerts.fake_bot_api import BLOCKED, FakeBotApi
from tests.integration.alerts.test_delivery import OPTIONS, deliver

HOUR = timedelta(hours=1)
OPERATOR_CHAT = 1003


def three_new(world: World, *, user_id: int, start: datetime) -> list[int]:
    """Three non-urgent new_incident rows for the user, 20 minutes apart from `start`."""
    ids = [
        world.incident_id,
        world.incident("2026-000043", "Яма на дороге", "с. Благословенное", HOUR * 5),
        world.incident("2026-000044", "Не горит фонарь", "с. Пузино", HOUR * 30),
    ]
    return [
        world.alert(
            user_id=user_id,
            kind="new_incident",
            incident_id=iid,
            at=start + n * timedelta(minutes=20),
        )
        for n, iid in enumerate(ids)
    ]


def digest_lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.startswith("• ")]


def test_three_new_incidents_within_an_hour_arrive_as_one_message(
    world: World, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    ids = three_new(world, user_id=world.head_id, start=NOW - timedelta(minutes=50))

    early = deliver(world, clock)
    assert (early.claimed, early.sent) == (0, 0)
    assert [world.row(i).status for i in ids] == ["pending"] * 3

    stats = deliver(world, clock, now=NOW + timedelta(minutes=10))

    assert (stats.claimed, stats.sent, stats.digests) == (3, 3, 1)
    (message,) = fake_api.sent()
    assert message.params["chat_id"] == HEAD_CHAT
    expected = format_new_digest(
        [world.row(i).payload for i in ids],
        window=HOUR,
        ctx=FormatContext(BASE_URL, TZ, {"housing": "Жилищно-коммунальное хозяйство"}),
    )
    assert message.params["text"] == expected.text
    assert message.params["text"].startswith("<b>🆕 Новые инциденты за час: 3</b>")
    lines = digest_lines(message.params["text"])
    assert [line.split("№")[1][:11] for line in lines] == [
        "2026-000042",
        "2026-000043",
        "2026-000044",
    ]
    rows = [world.row(i) for i in ids]
    assert {(r.status, r.attempts) for r in rows} == {("sent", 1)}
    assert len({r.sent_at for r in rows}) == 1  # settled together


def test_each_user_gets_their_own_digest_and_other_kinds_go_alone(
    world: World, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    world.session.add(TelegramLink(user_id=world.operator_id, chat_id=OPERATOR_CHAT, active=True))
    world.session.commit()
    three_new(world, user_id=world.head_id, start=NOW - HOUR)
    world.alert(user_id=world.operator_id, kind="new_incident", at=NOW - HOUR)
    world.alert(user_id=world.head_id, kind="overdue", at=NOW - HOUR)

    stats = deliver(world, clock, now=NOW + HOUR)

    assert (stats.sent, stats.digests) == (5, 2)
    texts: dict[int, list[str]] = {}
    for call in fake_api.sent():
        texts.setdefault(call.params["chat_id"], []).append(call.params["text"])
    assert len(texts[HEAD_CHAT]) == 2 and len(texts[OPERATOR_CHAT]) == 1
    assert texts[HEAD_CHAT][0].startswith("<b>⚠️ Срок истёк")  # not held for the digest
    assert len(digest_lines(texts[HEAD_CHAT][1])) == 3
    assert len(digest_lines(texts[OPERATOR_CHAT][0])) == 1


def test_an_urgent_new_incident_goes_at_once_and_the_rest_wait(
    world: World, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    other = world.incident("2026-000043", "Прорыв теплотрассы", "с. Амурзет", HOUR)
    urgent = world.alert(user_id=world.head_id, kind="new_incident", urgent=True, incident_id=other)
    normal = world.alert(user_id=world.head_id, kind="new_incident")

    stats = deliver(world, clock)

    assert (stats.sent, stats.digests) == (1, 0)
    (call,) = fake_api.sent()
    assert call.params["text"].startswith("<b>🔴 СРОЧНО · 🆕 Новый инцидент №2026-000043</b>")
    assert world.row(urgent).status == "sent"
    assert world.row(normal).status == "pending"
    assert deliver(world, clock, now=NOW + HOUR - timedelta(seconds=1)).sent == 0
    assert deliver(world, clock, now=NOW + HOUR).digests == 1


def test_quiet_hours_postpone_the_digest_until_morning(
    world: World, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    head = world.session.get(User, world.head_id)
    assert head is not None
    head.quiet_from, head.quiet_to = "22:00", "08:00"
    world.session.commit()
    night = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)  # 23:00 in Vladivostok
    ids = three_new(world, user_id=world.head_id, start=night - timedelta(minutes=70))

    stats = deliver(world, clock, now=night)

    assert (stats.sent, stats.postponed) == (0, 3)
    morning = datetime(2026, 3, 10, 22, 0, tzinfo=UTC)  # 08:00 local
    assert {(world.row(i).next_attempt_at, world.row(i).attempts) for i in ids} == {(morning, 0)}
    assert deliver(world, clock, now=morning - timedelta(seconds=1)).claimed == 0
    later = deliver(world, clock, now=morning)
    assert (later.sent, later.digests) == (3, 1)
    assert len(digest_lines(fake_api.sent()[0].params["text"])) == 3


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


def test_a_crash_between_send_and_mark_repeats_only_that_digest(
    world: World, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    single = world.alert(user_id=world.executor_id, at=NOW)
    ids = three_new(world, user_id=world.head_id, start=NOW - HOUR)

    with pytest.raises(OperationalError):
        deliver(world, clock, sessions=_crashing_sessions(world, fake_api))
    assert world.row(single).status == "sent"
    assert [world.row(i).status for i in ids] == ["sending"] * 3

    assert deliver(world, clock, now=NOW + timedelta(minutes=1)).claimed == 0  # leased
    stats = deliver(world, clock, now=NOW + OPTIONS.lease + timedelta(seconds=1))

    assert (stats.claimed, stats.sent, stats.digests) == (3, 3, 1)
    chats = [c.params["chat_id"] for c in fake_api.sent()]
    assert chats.count(HEAD_CHAT) == 2  # the in-flight digest, once more
    assert chats.count(EXEC_CHAT) == 1
    assert {world.row(i).status for i in ids} == {"sent"}


def test_closed_incidents_drop_out_and_a_blocked_bot_kills_the_whole_digest(
    world: World, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    ids = three_new(world, user_id=world.head_id, start=NOW - HOUR)
    closed = world.session.get(Incident, world.row(ids[1]).incident_id)
    assert closed is not None
    closed.status = "closed"
    world.session.commit()
    fake_api.fail_next("sendMessage", BLOCKED)

    stats = deliver(world, clock)

    assert (stats.skipped, stats.dead, stats.sent) == (1, 2, 0)
    assert world.row(ids[1]).last_error == service.CLOSED
    assert [world.row(i).status for i in (ids[0], ids[2])] == ["dead", "dead"]
    (call,) = fake_api.of("sendMessage")
    assert len(digest_lines(call.params["text"])) == 2
    link = world.link(world.head_id)
    assert link is not None and not link.active and link.blocked_at is not None


def test_a_new_incident_without_a_recipient_is_skipped_at_once(
    world: World, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    orphan = world.alert(user_id=world.head_id, kind="new_incident")
    row = world.row(orphan)
    row.user_id = None
    world.session.commit()

    assert deliver(world, clock).skipped == 1
    assert world.row(orphan).last_error == service.NO_USER
