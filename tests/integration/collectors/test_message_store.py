"""Messages are stored once per (source, external_id), whatever the retries."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from collectors.repository import MAX_TEXT_CHARS, ensure_source, store_messages
from core.models import Message
from core.types import Geo, RawMessage

NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def _msg(external_id: str, text: str = "Яма на ул. Ленина") -> RawMessage:
    return RawMessage(
        source="vk-test", external_id=external_id, text=text, created_at=NOW, geo=Geo(47.69, 131.1)
    )


def test_repeated_batch_is_not_stored_twice(db_session: Session) -> None:
    source = ensure_source(db_session, name="vk-test", kind="vk")
    stored, dups = store_messages(
        db_session, source=source, messages=[_msg("1"), _msg("2")], now=NOW
    )
    again = store_messages(db_session, source=source, messages=[_msg("2"), _msg("3")], now=NOW)
    db_session.commit()
    assert (stored, dups) == (2, 0)
    assert again == (1, 1)
    assert db_session.scalar(select(func.count()).select_from(Message)) == 3


def test_nul_bytes_and_huge_texts_are_kept_safely(db_session: Session) -> None:
    source = ensure_source(db_session, name="vk-test", kind="vk")
    huge = "я" * (MAX_TEXT_CHARS + 5000)
    store_messages(
        db_session, source=source, messages=[_msg("nul", "нет\x00воды"), _msg("big", huge)], now=NOW
    )
    db_session.commit()
    texts = dict(db_session.execute(select(Message.external_id, Message.text)).all())
    assert texts["nul"] == "нетводы"
    assert texts["big"].startswith("я" * 100) and texts["big"].endswith("[…текст сокращён]")
    assert len(texts["big"]) < MAX_TEXT_CHARS + 100
