"""The VK collector through real vk_api against a local fake VK, into SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.collect import run_pass as collect_once
from collectors import repository as collectors_repo
from collectors.errors import TemporaryError
from collectors.vk import VkCollector, post_reply
from collectors.vk_client import VkClient
from core.models import Message, Source
from core.types import RawMessage, StoreResult

NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
T = int(NOW.timestamp())
DAY = 86_400
CITIZEN, NEIGHBOUR = 501_777, 502_888  # raw VK ids: they must never reach the database
PHOTO = {
    "type": "photo",
    "photo": {
        "sizes": [
            {"type": "m", "url": "https://sun.userapi.com/m.jpg", "width": 130, "height": 97},
            {"type": "x", "url": "https://sun.userapi.com/x.jpg", "width": 604, "height": 453},
        ]
    },
}
Build = Callable[..., VkCollector]


def _source(session: Session, fake: Any, **settings: Any) -> Source:
    source = collectors_repo.ensure_source(
        session,
        name="vk-test",
        kind="vk",
        settings={"group_id": fake.group_id, **settings},
        secret="group-token",
    )
    session.commit()
    return source


def _run(session: Session, build: Callable[[], VkCollector], now: datetime = NOW) -> StoreResult:
    result = collect_once(session, name="vk-test", now=now, build=lambda _row: build())
    session.commit()
    return result


def _stored(session: Session) -> dict[str, Message]:
    return {m.external_id: m for m in session.scalars(select(Message))}


def _world(fake: Any) -> dict[str, int]:
    """Two recent posts (one with 105 comments), a thread of 12, noise, and an old post."""
    fake.add_user(CITIZEN, "Иван", "Петров")
    fake.add_user(NEIGHBOUR, "Мария", "Сидорова")
    fake.add_post("Прошлогоднее объявление", date=T - 30 * DAY)
    p1 = fake.add_post("График вывоза мусора", date=T - DAY, attachments=[PHOTO])
    c1 = fake.add_comment(p1, "Когда починят дорогу на Ленина?", date=T - DAY + 60, from_id=CITIZEN)
    r1 = fake.add_comment(p1, "Присоединяюсь", date=T - DAY + 120, from_id=NEIGHBOUR, reply_to=c1)
    c2 = fake.add_comment(p1, "Нет света на Советской", date=T - DAY + 180, from_id=NEIGHBOUR)
    for i in range(12):  # more than the 10-reply preview: the thread is read on its own
        fake.add_comment(p1, f"И у нас {i}", date=T - DAY + 200 + i, from_id=CITIZEN, reply_to=c2)
    fake.add_comment(p1, "", date=T - DAY + 300, from_id=CITIZEN)  # empty: skipped
    fake.add_comment(p1, "Ответ администрации", date=T - DAY + 400, from_id=-fake.group_id)
    place = {"type": "point", "coordinates": "47.70 131.10", "place": {"title": "Амурзет"}}
    p2 = fake.add_post("Нет воды в Амурзете", date=T - 3600, signer_id=CITIZEN, geo=place)
    for i in range(105):  # two pages of comments
        fake.add_comment(p2, f"Тоже нет воды, дом {i}", date=T - 3000 + i, from_id=NEIGHBOUR)
    return {"p1": p1, "p2": p2, "c1": c1, "r1": r1, "c2": c2}


EXPECTED = 2 + 15 + 105


def test_first_pass_collects_posts_comments_and_threads_once(
    db_session: Session, fake_vk: Any, make_vk: Build
) -> None:
    ids = _world(fake_vk)
    g, p1, p2, c1, r1 = fake_vk.group_id, ids["p1"], ids["p2"], ids["c1"], ids["r1"]
    _source(db_session, fake_vk)

    first = _run(db_session, make_vk)
    stored = _stored(db_session)

    assert first == StoreResult(EXPECTED, EXPECTED, 0, 0)
    comment = stored[f"comment-{g}_{p1}_{c1}"]
    assert comment.text == "Когда починят дорогу на Ленина?"
    assert comment.url == f"https://vk.com/wall-{g}_{p1}?reply={c1}"
    assert (comment.thread_id, comment.reply_to) == (f"wall-{g}_{p1}", f"wall-{g}_{p1}")
    assert comment.author_name == "Иван Петров" and (comment.author_id or "").startswith("vk:")
    assert comment.created_at == datetime.fromtimestamp(T - DAY + 60, UTC)
    reply = stored[f"comment-{g}_{p1}_{r1}"]
    assert reply.reply_to == f"comment-{g}_{p1}_{c1}"
    assert reply.url == f"https://vk.com/wall-{g}_{p1}?reply={r1}&thread={c1}"
    post = stored[f"wall-{g}_{p2}"]
    assert (post.author_name, post.lat, post.lon, post.place_text) == (
        "Иван Петров",
        47.7,
        131.1,
        "Амурзет",
    )
    assert stored[f"wall-{g}_{p1}"].attachments == ["https://sun.userapi.com/x.jpg"]
    assert "Ответ администрации" not in {m.text for m in stored.values()}
    raw_ids = {str(CITIZEN), str(NEIGHBOUR)}
    assert not any(
        raw in (m.author_id or "") + m.external_id for m in stored.values() for raw in raw_ids
    )

    calls = len(fake_vk.calls)
    second = _run(db_session, make_vk)
    assert second == StoreResult(0, 0, 0, 0)
    assert [name for name, _ in fake_vk.calls[calls:]] == ["wall.get"]  # counts unchanged


def test_next_pass_reads_only_news_even_deep_in_a_thread(
    db_session: Session, fake_vk: Any, make_vk: Build
) -> None:
    ids = _world(fake_vk)
    _source(db_session, fake_vk)
    _run(db_session, make_vk)
    fake_vk.add_comment(
        ids["p1"], "Прошла неделя, ничего", date=T + 60, from_id=CITIZEN, reply_to=ids["c2"]
    )
    fake_vk.add_post("Отключение электроэнергии", date=T + 120)

    result = _run(db_session, make_vk, now=NOW + timedelta(minutes=5))

    assert result == StoreResult(2, 2, 0, 0)
    assert len(_stored(db_session)) == EXPECTED + 2


def test_error_6_is_retried_with_backoff_then_succeeds(
    db_session: Session, fake_vk: Any, make_vk: Build, sleeps: list[float]
) -> None:
    fake_vk.add_post("Яма у школы", date=T - 60)
    source = _source(db_session, fake_vk)
    fake_vk.fail("wall.get", code=6, times=3)

    result = _run(db_session, make_vk)

    assert result.stored == 1
    assert sleeps == [1.0, 2.0, 4.0]
    assert source.status == "ok" and fake_vk.count("wall.get") == 4


def test_error_5_marks_the_token_dead_and_stores_nothing(
    db_session: Session, fake_vk: Any, make_vk: Build
) -> None:
    _world(fake_vk)
    source = _source(db_session, fake_vk)
    fake_vk.fail("wall.getComments", code=5)

    result = _run(db_session, make_vk)

    db_session.refresh(source)
    assert result == StoreResult(0, 0, 0, 1)
    assert (source.status, source.cursor, source.error_count) == ("token_dead", {}, 1)
    assert "ошибка 5" in (source.last_error or "") and "group-token" not in (
        source.last_error or ""
    )
    assert _stored(db_session) == {}


def test_error_15_marks_the_source_inaccessible(
    db_session: Session, fake_vk: Any, make_vk: Build
) -> None:
    source = _source(db_session, fake_vk)
    fake_vk.fail("wall.get", code=15)
    assert _run(db_session, make_vk).errors == 1
    db_session.refresh(source)
    assert source.status == "inaccessible"


def test_error_29_pauses_the_source_for_hours(
    db_session: Session, fake_vk: Any, make_vk: Build
) -> None:
    fake_vk.add_post("Яма у школы", date=T - 60)
    source = _source(db_session, fake_vk)
    fake_vk.fail("wall.get", code=29)

    _run(db_session, make_vk)
    db_session.refresh(source)
    assert (source.status, source.paused_until) == ("rate_limited", NOW + timedelta(hours=6))

    calls = len(fake_vk.calls)
    assert _run(db_session, make_vk, now=NOW + timedelta(hours=1)) == StoreResult(0, 0, 0, 0)
    assert len(fake_vk.calls) == calls  # paused: VK is not even asked
    assert _run(db_session, make_vk, now=NOW + timedelta(hours=7)).stored == 1


def test_5xx_inside_a_comment_page_loses_nothing(
    db_session: Session, fake_vk: Any, make_vk: Build, sleeps: list[float]
) -> None:
    ids = _world(fake_vk)
    source = _source(db_session, fake_vk)
    _run(db_session, make_vk)
    cursor = dict(source.cursor)
    for i in range(110):  # the next pass has two more pages of comments on p2
        fake_vk.add_comment(ids["p2"], f"Воды так и нет {i}", date=T + i, from_id=CITIZEN)
    page_two = str(ids["p2"])
    fake_vk.fail(
        "wall.getComments",
        status=502,
        times=4,
        when=lambda p: p["post_id"] == page_two and p.get("offset") == "190",
    )

    failed = _run(db_session, make_vk, now=NOW + timedelta(minutes=5))
    db_session.refresh(source)
    assert failed == StoreResult(0, 0, 0, 1) and sleeps == [1.0, 2.0, 4.0]
    assert (source.status, source.cursor) == ("error", cursor)
    assert len(_stored(db_session)) == EXPECTED

    retried = _run(db_session, make_vk, now=NOW + timedelta(minutes=10))
    assert retried == StoreResult(110, 110, 0, 0)
    assert _run(db_session, make_vk, now=NOW + timedelta(minutes=15)) == StoreResult(0, 0, 0, 0)


def test_a_dropped_connection_is_retried(
    db_session: Session, fake_vk: Any, make_vk: Build, sleeps: list[float]
) -> None:
    fake_vk.add_post("Яма у школы", date=T - 60)
    _source(db_session, fake_vk)
    fake_vk.fail("wall.get", drop=True)
    assert _run(db_session, make_vk).stored == 1
    assert sleeps == [1.0]


def test_worker_killed_mid_batch_leaves_no_gap_and_no_duplicate(
    db_session: Session, fake_vk: Any, make_vk: Build, monkeypatch: pytest.MonkeyPatch
) -> None:
    _world(fake_vk)
    source = _source(db_session, fake_vk)
    real_store = collectors_repo.store_messages

    def killed(
        session: Session, *, source: Source, messages: list[RawMessage], now: datetime
    ) -> tuple[int, int]:
        real_store(session, source=source, messages=messages[:50], now=now)
        raise RuntimeError("worker killed")

    monkeypatch.setattr(collectors_repo, "store_messages", killed)
    with pytest.raises(RuntimeError):
        collect_once(db_session, name="vk-test", now=NOW, build=lambda _row: make_vk())
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Message)) == 0
    db_session.refresh(source)
    assert source.cursor == {}

    monkeypatch.setattr(collectors_repo, "store_messages", real_store)
    assert _run(db_session, make_vk) == StoreResult(EXPECTED, EXPECTED, 0, 0)
    assert _run(db_session, make_vk) == StoreResult(0, 0, 0, 0)


def test_post_reply_sends_vk_params_and_is_not_collected_back(
    db_session: Session, fake_vk: Any, make_vk: Build, vk_client: Callable[..., VkClient]
) -> None:
    ids = _world(fake_vk)
    _source(db_session, fake_vk)
    _run(db_session, make_vk)

    comment_id = post_reply(
        client=vk_client(),
        group_id=fake_vk.group_id,
        post_id=ids["p1"],
        text="Ремонт дороги запланирован на июнь.",
        reply_to_comment=ids["c1"],
        guid="answer-17",
    )

    method, params = fake_vk.calls[-1]
    assert method == "wall.createComment"
    assert {
        k: params[k] for k in ("owner_id", "post_id", "reply_to_comment", "from_group", "guid", "v")
    } == {
        "owner_id": f"-{fake_vk.group_id}",
        "post_id": str(ids["p1"]),
        "reply_to_comment": str(ids["c1"]),
        "from_group": str(fake_vk.group_id),
        "guid": "answer-17",
        "v": "5.199",
    }
    assert params["message"] == "Ремонт дороги запланирован на июнь."
    assert comment_id == fake_vk.comments[ids["p1"]][-1]["id"]
    assert _run(db_session, make_vk, now=NOW + timedelta(minutes=5)).fetched == 0


def test_post_reply_without_guid_is_not_repeated_after_a_5xx(
    fake_vk: Any, vk_client: Callable[..., VkClient]
) -> None:
    post = fake_vk.add_post("Запись", date=T)
    fake_vk.fail("wall.createComment", status=502)
    with pytest.raises(TemporaryError):
        post_reply(client=vk_client(), group_id=fake_vk.group_id, post_id=post, text="Ответ")
    assert fake_vk.count("wall.createComment") == 1 and fake_vk.comments[post] == []


def test_search_and_long_poll_messages(db_session: Session, fake_vk: Any, make_vk: Build) -> None:
    _source(db_session, fake_vk)
    fake_vk.add_user(CITIZEN, "Иван", "Петров")
    fake_vk.add_search_hit(-77, "Амурзет: опять нет света", date=T - 600, from_id=NEIGHBOUR)
    fake_vk.add_search_hit(-77, "Котики", date=T - 500, from_id=NEIGHBOUR)
    build = lambda: make_vk(search=True, search_queries=("Амурзет",), longpoll=True)  # noqa: E731

    first = _run(db_session, build)
    assert first == StoreResult(1, 1, 0, 0)  # long poll starts from now
    fake_vk.add_dm(CITIZEN, "Прошу помочь с вывозом мусора", date=T + 30)
    fake_vk.lp_failed.append({"failed": 2})  # the key expired: a new key, the same ts

    second = _run(db_session, build, now=NOW + timedelta(minutes=5))
    assert second == StoreResult(1, 1, 0, 0)
    assert fake_vk.count("groups.getLongPollServer") == 3
    dm = next(m for m in _stored(db_session).values() if m.external_id.startswith("dm-"))
    assert (dm.text, dm.author_name) == ("Прошу помочь с вывозом мусора", "Иван Петров")
    assert str(CITIZEN) not in dm.external_id + (dm.thread_id or "") + (dm.author_id or "")
    assert _run(db_session, build, now=NOW + timedelta(minutes=10)) == StoreResult(0, 0, 0, 0)


def test_long_poll_failed_1_and_3_follow_vk_rules(
    db_session: Session, fake_vk: Any, make_vk: Build
) -> None:
    _source(db_session, fake_vk)
    build = lambda: make_vk(longpoll=True)  # noqa: E731
    _run(db_session, build)
    fake_vk.add_dm(CITIZEN, "Первое", date=T + 10)
    fake_vk.lp_failed.append({"failed": 3})  # events lost: a new key and VK's current ts

    lost = _run(db_session, build, now=NOW + timedelta(minutes=5))
    fake_vk.add_dm(CITIZEN, "Второе", date=T + 400)
    fake_vk.lp_failed.append({"failed": 1, "ts": "1"})  # history partly lost: go on from ts 1

    kept = _run(db_session, build, now=NOW + timedelta(minutes=10))

    assert (lost, kept) == (StoreResult(0, 0, 0, 1), StoreResult(1, 1, 0, 1))
    assert [m.text for m in _stored(db_session).values()] == ["Второе"]
