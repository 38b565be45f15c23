"""«Проблема решена?» in VK: the answer comment asks, the citizen's reply comment is the verdict.

End to end through the real parts: the VK collector (vk_api against the fake VK server)
brings the citizen's comment, the worker processes it, the answer job posts the reply
comment, and the citizen's reply to it comes back through the collector again.

Decided: only the VK user who wrote the answered message may give the verdict. A reply by
anyone else to the question (a neighbour's «да») goes through the normal pipeline.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import pipeline
from app.collect import collect_source
from app.context import AppContext
from app.feedback_replies import VK_QUESTION
from app.publish import deliver_published
from collectors.repository import ensure_source
from core.models import CitizenFeedback, FeedbackRequest, Incident, Message
from incidents import service

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
SOURCE = "vk-amurzet"
CITIZEN, NEIGHBOUR = 55, 77
COMPLAINT = "На ул. Ленина 7 в Амурзете огромная яма, машины бьют подвеску"
ANSWER = "20.11.2026 выполнен ямочный ремонт силами ДРСУ, ответственный — мастер Ким Д. В."
FAKE_VK = Path(__file__).resolve().parents[1] / "collectors" / "fake_vk.py"


@pytest.fixture
def fake_vk() -> Iterator[Any]:
    if "fake_vk" not in sys.modules:
        spec = importlib.util.spec_from_file_location("fake_vk", FAKE_VK)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["fake_vk"] = module
        spec.loader.exec_module(module)
    fake = sys.modules["fake_vk"].FakeVk()
    fake.start()
    fake.add_user(CITIZEN, "Иван", "Петров")
    fake.add_user(NEIGHBOUR, "Ольга", "Соседова")
    yield fake
    fake.stop()


@pytest.fixture
def ctx(app_ctx: AppContext, seeded_session: Session, fake_vk: Any) -> AppContext:
    settings = {"group_id": fake_vk.group_id, "min_interval": 0, "search": False}
    ensure_source(seeded_session, name=SOURCE, kind="vk", settings=settings, secret="group-token")
    return replace(
        app_ctx, settings=app_ctx.settings.model_copy(update={"vk_api_base": fake_vk.url})
    )


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


def _pass(ctx: AppContext, session: Session, now: datetime) -> None:
    """What the worker does: one collector pass, then processing of the new messages."""
    result = collect_source(ctx, session, name=SOURCE, now=now)
    assert result.errors == 0
    pipeline.process_pending(ctx, session, now)


def _message(session: Session, comment_id: int) -> Message:
    found = session.scalar(select(Message).where(Message.external_id.like(f"%_{comment_id}")))
    assert found is not None
    return found


def _answered_incident(
    ctx: AppContext, session: Session, fake_vk: Any
) -> tuple[Incident, int, int]:
    """The citizen's comment becomes an incident; its final answer is delivered in VK."""
    post_id = fake_vk.add_post("Пишите о проблемах района", date=_ts(NOW - timedelta(hours=2)))
    comment_id = fake_vk.add_comment(
        post_id, COMPLAINT, date=_ts(NOW - timedelta(hours=1)), from_id=CITIZEN
    )
    _pass(ctx, session, NOW)
    incident = session.get(Incident, _message(session, comment_id).incident_id)
    assert incident is not None
    answer = service.add_answer(
        session,
        incident=incident,
        author=None,
        kind="final",
        text=ANSWER,
        now=NOW + timedelta(hours=1),
        calendar=ctx.calendar,
    )
    answer.published_at = NOW + timedelta(hours=1)
    assert deliver_published(ctx, session, NOW + timedelta(hours=2)) == {"delivered": 1}
    return incident, post_id, comment_id


def _question_comment(fake_vk: Any) -> tuple[int, dict[str, str]]:
    [(_, params)] = [c for c in fake_vk.calls if c[0] == "wall.createComment"]
    [comment] = [c for cs in fake_vk.comments.values() for c in cs if c["from_id"] < 0]
    return int(comment["id"]), params


def _feedback(session: Session) -> list[CitizenFeedback]:
    return list(session.scalars(select(CitizenFeedback).order_by(CitizenFeedback.id)))


def test_no_reply_to_the_question_reopens_the_incident(
    ctx: AppContext, seeded_session: Session, fake_vk: Any
) -> None:
    incident, post_id, complaint_id = _answered_incident(ctx, seeded_session, fake_vk)
    question_id, params = _question_comment(fake_vk)
    assert params["message"] == f"{ANSWER}\n\n{VK_QUESTION}"
    request = seeded_session.scalar(select(FeedbackRequest))
    assert request is not None and request.incident_id == incident.id
    assert request.ref == f"comment-{fake_vk.group_id}_{post_id}_{question_id}"
    incidents_before = seeded_session.scalar(select(func.count(Incident.id)))

    reply_id = fake_vk.add_comment(
        post_id,
        "Нет, яма на месте 😡",
        date=_ts(NOW + timedelta(hours=3)),
        from_id=CITIZEN,
        reply_to=question_id,
    )
    _pass(ctx, seeded_session, NOW + timedelta(hours=4))

    [feedback] = _feedback(seeded_session)
    assert (feedback.verdict, feedback.comment, feedback.channel) == ("no", "яма на месте 😡", "vk")
    assert incident.status == "reopened" and incident.reopen_count == 1
    reply = _message(seeded_session, reply_id)
    assert (reply.status, reply.incident_id) == ("linked", incident.id)
    assert reply.extra["feedback"]["verdict"] == "no"
    assert seeded_session.scalar(select(func.count(Incident.id))) == incidents_before

    # The next final answer replies to the citizen's complaint, not to their «нет».
    again = service.add_answer(
        seeded_session,
        incident=incident,
        author=None,
        kind="final",
        text="25.11.2026 яма заделана повторно, ответственный — мастер Ким Д. В.",
        now=NOW + timedelta(hours=5),
        calendar=ctx.calendar,
    )
    again.published_at = NOW + timedelta(hours=5)
    deliver_published(ctx, seeded_session, NOW + timedelta(hours=6))
    calls = [params for method, params in fake_vk.calls if method == "wall.createComment"]
    assert [c["reply_to_comment"] for c in calls] == [str(complaint_id)] * 2
    assert seeded_session.scalar(select(func.count(FeedbackRequest.id))) == 2


def test_yes_resolves_and_a_repeated_yes_is_not_counted(
    ctx: AppContext, seeded_session: Session, fake_vk: Any
) -> None:
    incident, post_id, _ = _answered_incident(ctx, seeded_session, fake_vk)
    question_id, _ = _question_comment(fake_vk)
    first = fake_vk.add_comment(
        post_id, "Да, спасибо!", date=_ts(NOW), from_id=CITIZEN, reply_to=question_id
    )
    # The same person again, in the thread but not as a reply to the question comment.
    again = fake_vk.add_comment(post_id, "да", date=_ts(NOW), from_id=CITIZEN)
    _pass(ctx, seeded_session, NOW + timedelta(hours=4))

    [feedback] = _feedback(seeded_session)
    assert (feedback.verdict, feedback.comment) == ("yes", "спасибо!")
    assert incident.status == "resolved"
    for comment_id, repeated in ((first, False), (again, True)):
        message = _message(seeded_session, comment_id)
        assert message.incident_id == incident.id and message.status == "linked"
        assert message.extra["feedback"]["repeated"] is repeated


def test_other_users_and_other_words_go_through_the_normal_pipeline(
    ctx: AppContext, seeded_session: Session, fake_vk: Any
) -> None:
    incident, post_id, _ = _answered_incident(ctx, seeded_session, fake_vk)
    question_id, _ = _question_comment(fake_vk)
    neighbour = fake_vk.add_comment(
        post_id, "Нет, не решена", date=_ts(NOW), from_id=NEIGHBOUR, reply_to=question_id
    )
    question_back = fake_vk.add_comment(
        post_id,
        "А когда заасфальтируют весь двор на Ленина 7?",
        date=_ts(NOW),
        from_id=CITIZEN,
        reply_to=question_id,
    )
    _pass(ctx, seeded_session, NOW + timedelta(hours=4))

    assert _feedback(seeded_session) == []
    assert incident.status == "answered"
    for comment_id in (neighbour, question_back):
        message = _message(seeded_session, comment_id)
        assert message.status in ("classified", "linked")  # classified, then intake as usual
        assert "feedback" not in message.extra


def test_a_reply_through_long_poll_is_read_too(
    ctx: AppContext, seeded_session: Session, fake_vk: Any
) -> None:
    source = ensure_source(seeded_session, name=SOURCE, kind="vk")
    source.settings = {**source.settings, "longpoll": True}
    incident, post_id, _ = _answered_incident(ctx, seeded_session, fake_vk)
    question_id, _ = _question_comment(fake_vk)
    # A post past the wall re-read window: its new comment arrives only as a Long Poll event.
    comment = {
        "id": 9001,
        "from_id": CITIZEN,
        "date": _ts(NOW + timedelta(days=8)),
        "text": "Частично, яму засыпали щебнем",
        "post_id": post_id,
        "post_owner_id": -fake_vk.group_id,
        "owner_id": -fake_vk.group_id,
        "parents_stack": [question_id],
    }
    fake_vk.events.append({"type": "wall_reply_new", "object": comment, "group_id": 1001})
    _pass(ctx, seeded_session, NOW + timedelta(days=8))

    [feedback] = _feedback(seeded_session)
    assert (feedback.verdict, feedback.comment) == ("partial", "яму засыпали щебнем")
    assert _message(seeded_session, 9001).incident_id == incident.id


def test_an_interim_answer_asks_nothing(
    ctx: AppContext, seeded_session: Session, fake_vk: Any
) -> None:
    post_id = fake_vk.add_post("Пишите о проблемах района", date=_ts(NOW - timedelta(hours=2)))
    comment_id = fake_vk.add_comment(post_id, COMPLAINT, date=_ts(NOW), from_id=CITIZEN)
    _pass(ctx, seeded_session, NOW)
    incident = seeded_session.get(Incident, _message(seeded_session, comment_id).incident_id)
    assert incident is not None
    answer = service.add_answer(
        seeded_session,
        incident=incident,
        author=None,
        kind="interim",
        text="Заявка передана в ДРСУ, ремонт запланирован на 20.11.2026, мастер Ким Д. В.",
        now=NOW + timedelta(hours=1),
        calendar=ctx.calendar,
    )
    answer.published_at = NOW + timedelta(hours=1)
    deliver_published(ctx, seeded_session, NOW + timedelta(hours=2))
    [(_, params)] = [c for c in fake_vk.calls if c[0] == "wall.createComment"]
    assert "Проблема решена" not in params["message"]
    assert seeded_session.scalar(select(func.count(FeedbackRequest.id))) == 0
