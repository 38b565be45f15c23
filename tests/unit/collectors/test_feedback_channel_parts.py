"""Collector parts of «Проблема решена?» in VK and e-mail: pure, no network, no database.

The letter ends with the question; a citizen's reply keeps its References and is cut at
the quoted history; a Long Poll `wall_reply_new` comment maps like a wall comment.
"""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest

from collectors.mail_parse import parse_message, reply_text
from collectors.mail_send import build_reply
from collectors.vk_parse import wall_reply_to_raw

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
QUESTION = "Проблема решена? Ответьте на это письмо одним словом: да, частично или нет."


def _letter(question: str | None) -> EmailMessage:
    msg = build_reply(
        sender="mcu@example.ru",
        to="ivan@mail.example",
        text="Яма заделана 20.11.2026.",
        number="МЦУ-2026-000123",
        subject="Яма",
        parent_id="<a@mail.example>",
        root_id=None,
        track_url="https://mcu.example.ru/track",
        message_id="<mcu-answer-1-2@example.ru>",
        date=NOW,
        question=question,
    )
    parsed = email.message_from_bytes(msg.as_bytes(), policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_a_final_answer_letter_ends_with_the_question() -> None:
    body = _letter(QUESTION).get_content()
    assert body.rstrip("\n").splitlines()[-1] == QUESTION
    assert "Номер обращения: МЦУ-2026-000123" in body
    assert "Проблема решена" not in _letter(None).get_content()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Нет, яма на месте\n\n> Яма заделана.\n> Проблема решена?", "Нет, яма на месте"),
        (  # Gmail (ru): the attribution line ends with the address and a colon
            "Да, спасибо!\n\nср, 25 нояб. 2026 г. в 12:00, МЦУ <mcu@example.ru>:\n\n> Ответ",
            "Да, спасибо!",
        ),
        (
            "Частично\r\n\r\nOn Wed, Nov 25, 2026 at 12:00 MCU <mcu@example.ru> wrote:\r\n",
            "Частично",
        ),
        ("Нет\n\n-----Original Message-----\nFrom: МЦУ\nПроблема решена?", "Нет"),
        ("Нет\n\n-----Исходное сообщение-----\nОт: МЦУ", "Нет"),
        ("Да\n-- \nИван Петров\n+7 900 000-00-00", "Да"),
        ("Нет\n\nОт: МЦУ <mcu@example.ru>\nОтправлено: 25 ноября\nТема: Re: Яма\n\nОтвет", "Нет"),
        (
            "Нет.\nЯма на месте,\nмашины бьют подвеску.",
            "Нет.\nЯма на месте,\nмашины бьют подвеску.",
        ),
        ("От: жителей дома 5\nНет, не решена", "От: жителей дома 5\nНет, не решена"),
    ],
)
def test_reply_text_keeps_only_the_new_lines(body: str, expected: str) -> None:
    assert reply_text(body) == expected


def test_a_reply_keeps_its_references() -> None:
    raw = (
        "From: Иван <ivan@mail.example>\r\nSubject: Re: Яма [МЦУ-2026-000123]\r\n"
        "Message-ID: <r1@mail.example>\r\nIn-Reply-To: <mcu-answer-1-2@example.ru>\r\n"
        "References: <root@mail.example> <a@mail.example>\r\n <mcu-answer-1-2@example.ru>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nНет\r\n"
    ).encode()
    msg = parse_message(raw, source="mail", secret="k", now=NOW)
    assert msg.reply_to == "<mcu-answer-1-2@example.ru>"
    assert msg.thread_id == "<root@mail.example>"
    assert msg.extra["references"] == [
        "<root@mail.example>",
        "<a@mail.example>",
        "<mcu-answer-1-2@example.ru>",
    ]
    plain = parse_message(raw.replace(b"References", b"X-Other"), source="m", secret="k", now=NOW)
    assert "references" not in plain.extra


def test_wall_reply_new_maps_like_a_wall_comment() -> None:
    event = {
        "id": 42,
        "from_id": 501,
        "date": 1_795_000_000,
        "text": "Нет, яма на месте",
        "post_id": 7,
        "post_owner_id": -1001,
        "owner_id": -1001,
        "parents_stack": [30],
        "reply_to_comment": 41,
        "reply_to_user": -1001,
    }
    raw = wall_reply_to_raw(event, source="vk", group_id=1001, names={501: "Иван"}, secret="k")
    assert raw is not None
    assert raw.external_id == "comment-1001_7_42"
    assert raw.reply_to == "comment-1001_7_41" and raw.thread_id == "wall-1001_7"
    assert raw.author_name == "Иван" and raw.author_id and raw.author_id.startswith("vk:")
    own = event | {"from_id": -1001}  # the community's own answer comes back as an event too
    assert wall_reply_to_raw(own, source="vk", group_id=1001, names={}, secret="k") is None
