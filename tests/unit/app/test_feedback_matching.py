"""Which question a reply answers, and whether its author may answer it (no database)."""

from __future__ import annotations

from typing import Any

from app.feedback_replies import email_reply_text, email_request, subject_number, vk_request
from core.models import FeedbackRequest, Message

IVAN, OLGA = "vk:ivan", "vk:olga"


def _vk_question(comment_id: int, *, author: str = IVAN, post: int = 7) -> FeedbackRequest:
    return FeedbackRequest(
        id=comment_id,
        channel="vk",
        ref=f"comment-1001_{post}_{comment_id}",
        thread=f"wall-1001_{post}",
        author_id=author,
    )


def _comment(comment_id: int, *, author: str = IVAN, reply_to: int | None = None) -> Message:
    parent = f"comment-1001_7_{reply_to}" if reply_to else "wall-1001_7"
    return Message(
        external_id=f"comment-1001_7_{comment_id}",
        thread_id="wall-1001_7",
        reply_to=parent,
        author_id=author,
        text="Нет",
    )


def _vk(message: Message, *questions: FeedbackRequest) -> FeedbackRequest | None:
    return vk_request(message, by_ref={q.ref: q for q in questions}, in_thread=list(questions))


def test_a_reply_to_the_question_by_the_person_asked() -> None:
    question = _vk_question(20)
    assert _vk(_comment(21, reply_to=20), question) is question
    assert _vk(_comment(21, reply_to=20, author=OLGA), question) is None


def test_a_later_comment_in_the_thread_answers_the_latest_question_before_it() -> None:
    first, second = _vk_question(20), _vk_question(40)
    assert _vk(_comment(30), first, second) is first
    assert _vk(_comment(50), first, second) is second
    assert _vk(_comment(10), first, second) is None  # written before anything was asked
    assert _vk(_comment(50, author=OLGA), first, second) is None


def test_a_wall_post_or_an_anonymous_comment_is_never_a_reply() -> None:
    question = _vk_question(20, author="")
    post = Message(external_id="wall-1001_7", thread_id=None, reply_to=None, author_id=IVAN)
    assert _vk(post, _vk_question(20)) is None
    assert _vk(_comment(21, reply_to=20, author=""), question) is None


def _letter(**fields: Any) -> Message:
    base: dict[str, Any] = {
        "external_id": "<r@mail.example>",
        "contact": "ivan@mail.example",
        "author_id": "email:ivan",
        "text": "Re: Яма\nНет",
        "extra": {"subject": "Re: Яма"},
    }
    return Message(**(base | fields))


ASKED = FeedbackRequest(
    id=1, channel="email", ref="<mcu-answer-1-2@example.ru>", contact="ivan@mail.example"
)


def test_a_letter_answers_by_message_id_only_from_the_address_asked() -> None:
    by_ref = {ASKED.ref: ASKED}
    in_references = _letter(extra={"subject": "Re: Яма", "references": [ASKED.ref]})
    assert email_request(_letter(reply_to=ASKED.ref), by_ref=by_ref, by_number={}) is ASKED
    assert email_request(in_references, by_ref=by_ref, by_number={}) is ASKED
    stranger = _letter(reply_to=ASKED.ref, contact="olga@mail.example", author_id="email:olga")
    assert email_request(stranger, by_ref=by_ref, by_number={}) is None


def test_a_letter_answers_by_the_number_in_its_subject() -> None:
    letter = _letter(extra={"subject": "Re: Яма [мцу-2026-000123]"})
    assert subject_number(letter) == "МЦУ-2026-000123"
    by_number = {"МЦУ-2026-000123": [ASKED]}
    assert email_request(letter, by_ref={}, by_number=by_number) is ASKED
    other = _letter(extra={"subject": "Re: [МЦУ-2026-000123]"}, contact="olga@mail.example")
    assert email_request(other, by_ref={}, by_number=by_number) is None
    assert subject_number(_letter(extra={"subject": "Яма на Ленина"})) is None


def test_the_subject_line_and_the_quote_are_not_the_reply() -> None:
    letter = _letter(text="Re: Яма\nЧастично\n\n> Проблема решена?")
    assert email_reply_text(letter) == "Частично"
