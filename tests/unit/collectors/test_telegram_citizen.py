"""Pure parts of the citizen bot: link-code routing, drafts, texts, posts as RawMessage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram.types import Message, PhotoSize

from collectors import telegram_posts as tp
from collectors.base import pseudonymize
from collectors.telegram_outbound import FeedbackCb, feedback_keyboard, status_update_text
from core.types import Geo

SECRET = "unit-secret"
NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)


def message(**fields: Any) -> Message:
    base: dict[str, Any] = {
        "message_id": 7,
        "date": int(NOW.timestamp()),
        "chat": {"id": -100500, "type": "supergroup", "title": "Амурзет"},
        "from": {"id": 42, "is_bot": False, "first_name": "Иван", "last_name": "Петров"},
    }
    return Message.model_validate(base | fields)


@pytest.mark.parametrize(
    ("payload", "is_code"),
    [
        ("Ab3_-xYz0123456789abcd", True),  # secrets.token_urlsafe(16)
        ("", False),
        ("report", False),
        ("П-000123", False),
        ("short_code", False),
    ],
)
def test_link_codes_are_told_apart_from_citizen_payloads(payload: str, is_code: bool) -> None:
    assert tp.looks_like_link_code(payload) is is_code


def test_the_largest_photo_size_is_kept_by_file_id() -> None:
    sizes = [
        PhotoSize(file_id="small", file_unique_id="s", width=90, height=60),
        PhotoSize(file_id="big", file_unique_id="b", width=1280, height=960),
        PhotoSize(file_id="mid", file_unique_id="m", width=320, height=240),
    ]
    assert tp.largest_photo(sizes) == "tg-file:big"
    assert tp.largest_photo([]) is None
    assert tp.largest_photo(None) is None


def test_a_draft_survives_the_fsm_storage_round_trip() -> None:
    draft = tp.Draft(text="Нет света", geo=(48.1, 131.2), photos=("tg-file:x",), place="ул. Мира")
    stored = draft.to_data()
    assert stored["geo"] == [48.1, 131.2] and stored["photos"] == ["tg-file:x"]
    assert tp.Draft.from_data(stored) == draft
    assert tp.Draft.from_data({}) == tp.Draft()


def test_the_summary_escapes_what_the_citizen_wrote() -> None:
    text = tp.summary(tp.Draft(text="<b>яма</b> & лужа", place="ул. <Мира>"))
    assert "&lt;b&gt;яма&lt;/b&gt; &amp; лужа" in text
    assert "ул. &lt;Мира&gt;" in text
    assert "<b>яма" not in text


def test_a_confirmed_draft_becomes_a_raw_message_with_a_way_back() -> None:
    draft = tp.Draft(text="Яма", geo=(48.2, 131.5), photos=("tg-file:f1",), place="с. Амурзет")
    raw = tp.citizen_raw(
        draft,
        source="telegram-bot",
        chat_id=555,
        message_id=31,
        user_id=555,
        user_name="Иван Петров",
        created_at=NOW,
        secret=SECRET,
    )
    assert raw.external_id == "555:31" and raw.contact == "tg:555"
    assert raw.author_id == pseudonymize(kind="telegram", account_id="555", secret=SECRET)
    assert "555" not in (raw.author_id or "")
    assert raw.geo == Geo(48.2, 131.5) and raw.place_text == "с. Амурзет"
    assert raw.attachments == ("tg-file:f1",) and raw.created_at == NOW


def test_a_group_message_of_a_public_chat_gets_its_link() -> None:
    msg = message(
        text="Во дворе не вывозят мусор",
        chat={"id": -100500, "type": "supergroup", "title": "Амурзет", "username": "amurzet"},
        reply_to_message={
            "message_id": 5,
            "date": int(NOW.timestamp()),
            "chat": {"id": -100500, "type": "supergroup"},
            "text": "раньше",
        },
    )
    raw = tp.post_raw(msg, source="telegram-bot", secret=SECRET)
    assert raw is not None
    assert raw.external_id == "tgchat--100500_7"
    assert raw.url == "https://t.me/amurzet/7"
    assert raw.reply_to == "tgchat--100500_5"
    assert raw.author_id == pseudonymize(kind="telegram", account_id="42", secret=SECRET)
    assert raw.author_name == "Иван Петров" and raw.contact is None


def test_a_private_group_has_no_link_and_a_channel_post_is_authored_by_the_channel() -> None:
    group = tp.post_raw(message(text="Нет воды"), source="s", secret=SECRET)
    assert group is not None and group.url is None
    channel = {"id": -100900, "type": "channel", "title": "Новости района", "username": "news"}
    post = message(text="Перекрыта дорога", chat=channel, sender_chat=channel)
    post = post.model_copy(update={"from_user": None})
    raw = tp.post_raw(post, source="s", secret=SECRET)
    assert raw is not None and raw.author_name == "Новости района"
    assert raw.author_id == pseudonymize(kind="telegram", account_id="-100900", secret=SECRET)


def test_posts_without_text_and_automatic_forwards_are_skipped() -> None:
    assert tp.post_raw(message(sticker=_sticker()), source="s", secret=SECRET) is None
    forward = message(text="Повтор поста канала", is_automatic_forward=True)
    assert tp.post_raw(forward, source="s", secret=SECRET) is None


def _sticker() -> dict[str, Any]:
    return {
        "file_id": "st",
        "file_unique_id": "st",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }


def test_refusals_name_the_problem_and_ask_again() -> None:
    assert "Стикеры" in tp.refusal(message(sticker=_sticker()))
    voice = {"file_id": "v", "file_unique_id": "v", "duration": 3}
    assert "Голосовые" in tp.refusal(message(voice=voice), hint=tp.ASK_ADDRESS)
    assert tp.refusal(message(voice=voice), hint=tp.ASK_ADDRESS).endswith(tp.ASK_ADDRESS)
    huge = tp.refusal(message(text="я" * 4001))
    assert "4001" in huge and str(tp.MAX_TEXT) in huge


def test_verdict_buttons_carry_the_number_and_the_verdict() -> None:
    rows = feedback_keyboard("П-000123").inline_keyboard
    assert [b.text for b in rows[0]] == ["Да", "Частично", "Нет"]
    assert [b.callback_data for b in rows[0]] == [
        "fb:П-000123:yes",
        "fb:П-000123:partial",
        "fb:П-000123:no",
    ]
    assert FeedbackCb.unpack("fb:П-000123:no") == FeedbackCb(number="П-000123", verdict="no")


def test_a_status_update_escapes_and_cuts_a_long_answer() -> None:
    text = status_update_text(number="П-1", status_text="Дан ответ", answer_text="<i>" + "а" * 5000)
    assert "&lt;i&gt;" in text and "<i>" not in text
    assert text.endswith("…") and len(text) < 4096
    assert "Ответ" not in status_update_text(number="П-1", status_text="x", answer_text=None)
