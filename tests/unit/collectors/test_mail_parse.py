"""E-mail parsing: charsets (declared, wrong, missing), MIME bodies, names, dates, ids."""

from __future__ import annotations

import base64
import quopri
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.base import pseudonymize
from collectors.mail_parse import (
    CUT_MARK,
    TEXT_LIMIT,
    decode_bytes,
    decode_header_value,
    html_to_text,
    message_ids,
    parse_date,
    parse_message,
)
from core.types import RawMessage

NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
SECRET = "test-secret"
COMPLAINT = "Здравствуйте! Во дворе дома 5 по улице Ленина третий день не вывозят мусор."


def mail(headers: list[str | bytes], body: str | bytes) -> bytes:
    """A letter from header lines and a body written with \\n line ends."""
    lines = [h.encode() if isinstance(h, str) else h for h in headers]
    payload = body.encode() if isinstance(body, str) else body
    return b"\r\n".join(lines) + b"\r\n\r\n" + payload.replace(b"\n", b"\r\n")


def b_word(text: str, charset: str) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def parse(raw: bytes) -> RawMessage:
    return parse_message(raw, source="mail-test", secret=SECRET, now=NOW)


@pytest.mark.parametrize(
    ("data", "declared", "charset"),
    [
        (COMPLAINT.encode("koi8-r"), "KOI8-R", "koi8-r"),
        (COMPLAINT.encode("cp1251"), None, "cp1251"),
        (COMPLAINT.encode("koi8-r"), None, "koi8-r"),
        (COMPLAINT.encode("cp1251"), "utf-8", "cp1251"),  # declared, but not UTF-8 at all
        (COMPLAINT.encode("cp1251"), "iso-8859-1", "cp1251"),  # Latin-1 label on cp1251
        (COMPLAINT.encode("cp1251"), "koi8-r", "cp1251"),  # the classic swap
        (COMPLAINT.encode("utf-8"), "x-unknown-8bit", "utf-8"),
        (COMPLAINT.encode("utf-8"), "windows-1251", "utf-8"),  # 0x98 is no cp1251 byte
    ],
)
def test_text_is_decoded_with_the_right_charset(
    data: bytes, declared: str | None, charset: str
) -> None:
    decoded = decode_bytes(data, declared)
    assert (decoded.text, decoded.charset) == (COMPLAINT, charset)


def test_a_correct_latin1_label_is_kept() -> None:
    text = "Café crème, très déçu: à côté de l'école"
    assert decode_bytes(text.encode("latin-1"), "iso-8859-1").text == text


def test_damaged_utf8_keeps_the_text_and_marks_only_the_broken_bytes() -> None:
    data = COMPLAINT.encode() + "ё".encode()[:1] + " конец".encode()
    decoded = decode_bytes(data)
    assert decoded.text == COMPLAINT + "\ufffd конец"
    assert decoded.charset == "utf-8+replace"


def test_header_encoded_words_join_and_split_characters_survive() -> None:
    word = "Нет воды".encode()
    split = [base64.b64encode(word[:3]).decode(), base64.b64encode(word[3:]).decode()]
    value = f"{b_word('Жалоба:', 'koi8-r')}\r\n =?UTF-8?B?{split[0]}?= =?utf-8?B?{split[1]}?= (№5)"
    decoded = decode_header_value(value)
    assert decoded.text == "Жалоба:Нет воды (№5)"  # the space between words is dropped
    assert decoded.charset == "koi8-r,utf-8"
    assert decode_header_value("=?utf-8?Q?=D0=94=D0=B0_=D0=BD=D0=B5=D1=82?=").text == "Да нет"


def test_raw_8bit_and_mislabelled_headers_are_decoded() -> None:
    raw = "Протечка кровли в подъезде".encode("cp1251").decode("ascii", "surrogateescape")
    assert decode_header_value(raw) == decode_header_value(raw)
    assert decode_header_value(raw).text == "Протечка кровли в подъезде"
    assert decode_header_value(raw).charset == "cp1251"
    wrong = base64.b64encode("Протечка кровли".encode("cp1251")).decode()
    assert decode_header_value(f"=?utf-8?B?{wrong}?=").text == "Протечка кровли"


def test_control_characters_never_reach_a_header_value() -> None:
    assert decode_header_value("=?utf-8?Q?a=00b=0D=0Ac?=").text == "a b c"


def test_html_keeps_visible_text_and_line_breaks_only() -> None:
    markup = (
        "<html><head><title>t</title><style>p{color:red}</style></head><body>"
        "<p>Яма&nbsp;на дороге,\n  глубокая</p>\n <script>alert('x')</script>"
        "ул.&nbsp;Мира<br>дом 3<br><br>корп. 1<div>Фото&amp;видео</div>"
        "<ul><li>раз</li><li>два</li></ul>"
    )
    assert (
        html_to_text(markup)
        == "Яма на дороге, глубокая\nул. Мира\nдом 3\n\nкорп. 1\nФото&видео\nраз\nдва"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Thu, 19 Nov 2026 18:30:00 +1000", datetime(2026, 11, 19, 8, 30, tzinfo=UTC)),
        ("19 Nov 2026 08:30:00 -0000", datetime(2026, 11, 19, 8, 30, tzinfo=UTC)),
        ("Thu, 19 Nov 2026 08:30:00 GMT", datetime(2026, 11, 19, 8, 30, tzinfo=UTC)),
        ("вчера вечером", NOW),
        (None, NOW),
        ("Sat, 21 Nov 2026 08:30:00 +0000", NOW),  # from the future: the sender's clock
    ],
)
def test_dates_are_aware_utc_or_now(value: str | None, expected: datetime) -> None:
    assert parse_date(value, now=NOW) == expected


def test_message_ids_are_normalised_and_fit_the_column() -> None:
    assert message_ids(" <a.1@mail.ru>\r\n\t<b@x> ") == ["<a.1@mail.ru>", "<b@x>"]
    assert message_ids("bare-id@host") == ["bare-id@host"]
    long_id = message_ids("<" + "x" * 300 + "@host>")[0]
    assert long_id.startswith("sha256:") and len(long_id) <= 200


def test_koi8r_letter_with_encoded_subject_and_sender() -> None:
    raw = mail(
        [
            f"From: {b_word('Мария Иванова', 'koi8-r')} <Maria.Ivanova@Example.RU>",
            "Reply-To: <maria.home@example.ru>",
            f"Subject: {b_word('Мусор во дворе', 'koi8-r')}",
            "Date: Thu, 19 Nov 2026 18:30:00 +1000",
            "Message-ID: <k8@mail.example.ru>",
            "In-Reply-To: <answer-1@mcu.example.ru>",
            "References: <first@mail.example.ru> <answer-1@mcu.example.ru>",
            "Content-Type: text/plain; charset=KOI8-R",
            "Content-Transfer-Encoding: 8bit",
        ],
        COMPLAINT.encode("koi8-r"),
    )
    msg = parse(raw)
    assert msg.text == f"Мусор во дворе\n{COMPLAINT}"
    assert msg.author_name == "Мария Иванова"
    assert msg.author_id == pseudonymize(
        kind="email", account_id="maria.ivanova@example.ru", secret=SECRET
    )
    assert "maria" not in (msg.author_id or "").lower()
    assert msg.contact == "maria.home@example.ru"  # answers go where the citizen asked
    assert (msg.external_id, msg.reply_to) == ("<k8@mail.example.ru>", "<answer-1@mcu.example.ru>")
    assert msg.thread_id == "<first@mail.example.ru>"
    assert msg.created_at == datetime(2026, 11, 19, 8, 30, tzinfo=UTC)
    assert msg.extra["charsets"] == {"subject": "koi8-r", "body": "koi8-r"}


def test_cp1251_base64_and_utf8_quoted_printable_bodies() -> None:
    cp = mail(
        [
            "Subject: 1",
            "Content-Type: text/plain; charset=windows-1251",
            "Content-Transfer-Encoding: base64",
        ],
        base64.encodebytes(COMPLAINT.encode("cp1251")),
    )
    qp = mail(
        [
            "Subject: 2",
            'Content-Type: text/plain; charset="utf-8"',
            "Content-Transfer-Encoding: quoted-printable",
        ],
        quopri.encodestring((COMPLAINT * 3).encode()),
    )
    assert b"=\r\n" in qp  # soft line breaks are really there
    assert parse(cp).text == f"1\n{COMPLAINT}"
    assert parse(qp).text == f"2\n{COMPLAINT * 3}"


def test_undeclared_cp1251_letter_is_read_and_the_charset_recorded() -> None:
    raw = mail(
        [b"Subject: " + "Нет света".encode("cp1251"), "Content-Type: text/plain"],
        COMPLAINT.encode("cp1251"),
    )
    msg = parse(raw)
    assert msg.text == f"Нет света\n{COMPLAINT}"
    assert msg.extra["charsets"] == {"subject": "cp1251", "body": "cp1251"}


def test_html_only_letter_drops_scripts() -> None:
    raw = mail(
        ["Subject: Яма", "Content-Type: text/html; charset=utf-8"],
        "<p>Яма у школы</p><script>document.write('реклама')</script><p>Срочно!</p>",
    )
    assert parse(raw).text == "Яма\nЯма у школы\nСрочно!"


def test_alternative_prefers_plain_and_attachments_are_named() -> None:
    name = "фото ямы №2.jpg".encode()
    pct = "".join(f"%{b:02X}" for b in name)
    raw = mail(
        ["Subject: Яма", 'Content-Type: multipart/mixed; boundary="out"'],
        "--out\n"
        'Content-Type: multipart/alternative; boundary="alt"\n\n'
        "--alt\nContent-Type: text/plain; charset=utf-8\n\nЯма, простой текст\n"
        "--alt\nContent-Type: text/html; charset=utf-8\n\n<p>Яма, HTML</p>\n--alt--\n"
        "--out\nContent-Type: image/jpeg\nContent-Transfer-Encoding: base64\n"
        f"Content-Disposition: attachment;\n filename*0*=utf-8''{pct[:30]};\n"
        f" filename*1*={pct[30:]}\n\n/9j/4AAQ\n"
        "--out\nContent-Type: application/pdf\n"
        f'Content-Disposition: attachment; filename="{b_word("акт.pdf", "utf-8")}"\n\nJVBE\n'
        "--out\nContent-Type: image/png\nContent-Disposition: inline\n\niVBO\n--out--\n",
    )
    msg = parse(raw)
    assert msg.text == "Яма\nЯма, простой текст"
    assert msg.attachments == ("фото ямы №2.jpg", "акт.pdf", "image/png")


def test_a_letter_without_date_or_message_id_gets_now_and_a_stable_digest() -> None:
    raw = mail(["From: someone@example.ru", "Subject: Без даты"], "Текст")
    first, second = parse(raw), parse(raw)
    other = parse(raw + b"!")
    assert first.created_at == NOW
    assert first.external_id.startswith("sha256:")
    assert first.external_id == second.external_id != other.external_id
    assert first.author_name is None and first.contact == "someone@example.ru"


def test_a_huge_body_is_capped() -> None:
    raw = mail(["Subject: Большое", "Content-Type: text/plain; charset=utf-8"], "я" * 5_000_000)
    text = parse(raw).text
    assert len(text) == TEXT_LIMIT
    assert text.startswith("Большое\nяяя") and text.endswith(CUT_MARK)


def test_sender_without_address_has_no_author_id() -> None:
    msg = parse(mail(["From: Аноним", "Subject: x"], "y"))
    assert (msg.author_id, msg.contact) == (None, None)


HEADER_NAMES = [b"From", b"Subject", b"Date", b"Message-ID", b"In-Reply-To", b"Reply-To"]
header = st.tuples(st.sampled_from(HEADER_NAMES), st.binary(max_size=60))
content_type = st.sampled_from(
    [
        b"text/plain; charset=utf-8",
        b"text/html",
        b"text/plain; charset=bogus",
        b'multipart/mixed; boundary="b"',
        b"text/plain; charset*=utf-8''%FF",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(header, max_size=6), content_type, st.binary(max_size=400))
def test_any_bytes_give_a_storable_message(
    headers: list[tuple[bytes, bytes]], ctype: bytes, body: bytes
) -> None:
    lines = [name + b": " + value.replace(b"\n", b" ") for name, value in headers]
    msg = parse(b"\r\n".join([*lines, b"Content-Type: " + ctype]) + b"\r\n\r\n" + body)
    fields = [
        msg.text,
        msg.external_id,
        msg.author_name,
        msg.contact,
        msg.reply_to,
        *msg.attachments,
    ]
    for value in fields:
        if value is not None:
            value.encode("utf-8")  # no lone surrogates: the database would refuse them
    for value in fields[1:]:
        assert value is None or ("\x00" not in value and len(value) <= 300)
    assert msg.created_at.tzinfo is not None
