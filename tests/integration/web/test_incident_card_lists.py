"""The incident card's one statement: lists in order, values as stored, scope (both backends)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from core.models import (
    Answer,
    CitizenFeedback,
    Incident,
    IncidentEvent,
    Message,
    Source,
    User,
)
from tests.integration.web.conftest import XSS, WebWorld
from web.repository import detail
from web.repository.scope import IncidentScope

# JSON carries the texts: quotes, backslashes, control characters and non-BMP must survive.
ODD_TEXT = 'кавычки " \\ обратная косая\nперевод\tтаб \u2028 😀 ' + XSS
AT = datetime(2026, 11, 20, 3, 4, 5, 123456, tzinfo=UTC)


def _fill(world: WebWorld) -> Incident:
    """Rows whose SQL order (`at, id`) differs from insertion order, with equal `at` ties."""
    session, incident = world.session, world.incidents["housing"]
    assert world.source is not None
    later, earlier = AT + timedelta(minutes=5), AT - timedelta(days=400)
    for at, text in [(later, ODD_TEXT), (AT, "второе"), (AT, "третье"), (earlier, "первое")]:
        session.add(
            Message(
                source_id=world.source.id,
                external_id=uuid.uuid4().hex,
                author_name=None,
                text=text,
                url="https://vk.com/wall-1_2",
                created_at=at,
                attachments=[{"type": "photo", "url": "https://x/1.jpg"}],
                incident_id=incident.id,
            )
        )
    nameless = User(username="nameless", full_name="", role="operator", password_hash="x")
    session.add(nameless)
    session.flush()
    for at, actor in [(later, nameless.id), (AT, None), (AT, world.users["operator"].id)]:
        session.add(
            IncidentEvent(
                incident_id=incident.id,
                actor_id=actor,
                at=at,
                action="reassigned",
                from_status="new",
                to_status="assigned",
                reason=ODD_TEXT,
                payload={"department_id": 3, "nested": {"list": [1, "два", None]}},
            )
        )
    for at, author, formal in [(later, None, False), (AT, world.users["exec_gkh"].id, True)]:
        session.add(
            Answer(
                incident_id=incident.id,
                author_id=author,
                kind="final",
                text=ODD_TEXT,
                formal_reply=formal,
                formal_reasons=["нет срока", "нет исполнителя"] if formal else [],
                created_at=at,
                published_at=at + timedelta(seconds=1) if formal else None,
            )
        )
    for at, verdict in [(later, "no"), (AT, "yes")]:
        session.add(
            CitizenFeedback(
                incident_id=incident.id,
                verdict=verdict,
                comment=ODD_TEXT,
                channel=None,
                created_at=at,
            )
        )
    session.commit()
    return incident


def _expected(session: Session, incident_id: int) -> dict[str, list[Any]]:
    """The lists as separate ORM queries read them, oldest first (ties by id)."""
    session.expire_all()

    def ordered(model: Any, at: Any) -> list[Any]:
        stmt = select(model).where(model.incident_id == incident_id).order_by(at, model.id)
        return list(session.scalars(stmt))

    users = {u.id: u for u in session.scalars(select(User))}
    sources = {s.id: s for s in session.scalars(select(Source))}
    return {
        "timeline": [
            detail.TimelineItem(
                message_id=m.id,
                source_kind=sources[m.source_id].kind,
                source_name=sources[m.source_id].name,
                author_name=m.author_name,
                created_at=m.created_at,
                text=m.text,
                url=m.url,
                place_text=m.place_text,
                attachments=m.attachments,
            )
            for m in ordered(Message, Message.created_at)
        ],
        "history": [
            detail.EventRow(
                at=e.at,
                action=e.action,
                actor=(users[e.actor_id].full_name or users[e.actor_id].username)
                if e.actor_id
                else None,
                from_status=e.from_status,
                to_status=e.to_status,
                reason=e.reason,
                payload=e.payload,
            )
            for e in ordered(IncidentEvent, IncidentEvent.at)
        ],
        "answers": [
            detail.AnswerRow(
                id=a.id,
                kind=a.kind,
                text=a.text,
                author=users[a.author_id].full_name if a.author_id else None,
                created_at=a.created_at,
                published_at=a.published_at,
                formal_reply=a.formal_reply,
                formal_reasons=a.formal_reasons,
            )
            for a in ordered(Answer, Answer.created_at)
        ],
        "feedback": [
            detail.FeedbackRow(
                verdict=f.verdict, comment=f.comment, channel=f.channel, created_at=f.created_at
            )
            for f in ordered(CitizenFeedback, CitizenFeedback.created_at)
        ],
    }


def test_card_lists_match_separate_queries_in_order_and_value(web_world: WebWorld) -> None:
    incident = _fill(web_world)
    session = web_world.session
    card = detail.incident_card(session, incident_id=incident.id, scope=IncidentScope())
    assert card is not None and card.incident.id == incident.id
    expected = _expected(session, incident.id)
    added = [m.text for m in card.timeline if m.author_name is None]  # not intake's message
    assert added == ["первое", "второе", "третье", ODD_TEXT]
    assert card.timeline == expected["timeline"]
    assert card.history == expected["history"]
    assert {e.actor for e in card.history} >= {None, "nameless", "Сотрудник operator"}
    assert card.answers == expected["answers"]
    assert [a.formal_reply for a in card.answers] == [True, False]
    assert card.feedback == expected["feedback"]
    assert all(m.created_at.tzinfo == UTC for m in card.timeline)
    assert card.names["department"] == "Отдел жилищно-коммунального хозяйства"
    assert card.names["executor"] is None


def test_card_is_one_statement(web_world: WebWorld) -> None:
    incident = _fill(web_world)
    session = web_world.session
    engine = session.get_bind()
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        card = detail.incident_card(session, incident_id=incident.id, scope=IncidentScope())
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert card is not None and len(card.timeline) == 5
    assert len(statements) == 1


def test_card_is_none_when_missing_or_out_of_scope(web_world: WebWorld) -> None:
    session, housing = web_world.session, web_world.incidents["housing"]
    hidden = IncidentScope(blocks=("roads",))
    assert detail.incident_card(session, incident_id=housing.id, scope=hidden) is None
    assert detail.incident_card(session, incident_id=10**9, scope=IncidentScope()) is None
    empty = detail.incident_card(session, incident_id=web_world.incidents["roads"].id, scope=hidden)
    assert empty is not None and (empty.answers, empty.feedback) == ([], [])
