"""Answers go back to the citizen's channel: a VK reply comment through the real vk_api."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import pipeline
from app.context import AppContext
from app.publish import deliver_published
from collectors.repository import ensure_source, store_messages
from core.models import Answer, Incident, IncidentEvent
from core.types import RawMessage
from incidents import service

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
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
    yield fake
    fake.stop()


def _incident(app_ctx: AppContext, session: Session, *, kind: str, external_id: str) -> Incident:
    source = ensure_source(
        session, name=f"src-{kind}", kind=kind, settings={"group_id": 1001}, secret="group-token"
    )
    text = "На ул. Ленина 7 в Амурзете огромная яма, машины бьют подвеску"
    store_messages(
        session,
        source=source,
        now=NOW,
        messages=[
            RawMessage(source=source.name, external_id=external_id, text=text, created_at=NOW)
        ],
    )
    pipeline.process_pending(app_ctx, session, NOW)
    incident = session.scalar(select(Incident))
    assert incident is not None
    return incident


def _answer(
    app_ctx: AppContext, session: Session, incident: Incident, text: str, *, publish: bool = True
) -> Answer:
    answer = service.add_answer(
        session,
        incident=incident,
        author=None,
        kind="final",
        text=text,
        now=NOW + timedelta(hours=2),
        calendar=app_ctx.calendar,
    )
    if publish:  # what the incident page does when a person publishes the answer
        answer.published_at = NOW + timedelta(hours=2)
    return answer


def test_vk_answer_is_a_reply_comment(
    app_ctx: AppContext, seeded_session: Session, fake_vk: Any
) -> None:
    ctx = replace(
        app_ctx, settings=app_ctx.settings.model_copy(update={"vk_api_base": fake_vk.url})
    )
    post_id = fake_vk.add_post("Пост администрации", date=1_700_000_000)
    comment_id = fake_vk.add_comment(post_id, "яма на Ленина", date=1_700_000_100, from_id=55)
    incident = _incident(
        ctx, seeded_session, kind="vk", external_id=f"comment-1001_{post_id}_{comment_id}"
    )
    answer = _answer(
        ctx,
        seeded_session,
        incident,
        "20.11.2026 выполнен ямочный ремонт силами ДРСУ, ответственный — мастер Ким Д. В.",
    )
    assert deliver_published(ctx, seeded_session, NOW + timedelta(hours=3)) == {"delivered": 1}
    calls = [params for method, params in fake_vk.calls if method == "wall.createComment"]
    assert len(calls) == 1
    assert calls[0]["reply_to_comment"] == str(comment_id) and calls[0]["owner_id"] == "-1001"
    assert "ямочный ремонт" in calls[0]["message"]
    assert answer.delivered_at is not None
    event = seeded_session.scalar(
        select(IncidentEvent).where(IncidentEvent.action == "answer_delivered")
    )
    assert event is not None and any(
        c.startswith("vk: комментарий") for c in event.payload["channels"]
    )
    assert deliver_published(ctx, seeded_session, NOW + timedelta(hours=4)) == {"delivered": 0}


def test_an_unpublished_answer_is_not_delivered(
    app_ctx: AppContext, seeded_session: Session
) -> None:
    incident = _incident(app_ctx, seeded_session, kind="portal", external_id="p-1")
    answer = _answer(
        app_ctx, seeded_session, incident, "Ваше обращение рассмотрено.", publish=False
    )
    assert answer.formal_reply
    assert deliver_published(app_ctx, seeded_session, NOW + timedelta(hours=3)) == {"delivered": 0}
    assert answer.delivered_at is None
