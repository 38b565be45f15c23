"""The reply letter to a citizen's e-mail: headers, encoding, threading, no header injection."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest

from collectors.errors import CollectorError
from collectors.mail_send import (
    DEFAULT_SUBJECT,
    SmtpOptions,
    build_reply,
    reply_address,
    reply_for_message,
    reply_subject,
)
from config.settings import Settings
from core.models import Message

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
ANSWER = "Яма на ул. Ленина, 7 заделана 20.11.2026 силами ДРСУ.\nОтветственный — мастер Ким Д. В."


def _reply(**overrides: Any) -> EmailMessage:
    kwargs: dict[str, Any] = {
        "sender": "МЦУ Октябрьского района <mcu@example.ru>",
        "to": "ivan.petrov@mail.example",
        "text": ANSWER,
        "number": "МЦУ-2026-000123",
        "subject": "Яма на Ленина",
        "parent_id": "<CAF1a.2@mail.example>",
        "root_id": "<root.1@mail.example>",
        "track_url": "https://mcu.example.ru/track",
        "message_id": "<mcu-answer-5-9@example.ru>",
        "date": NOW,
    }
    return build_reply(**{**kwargs, **overrides})


def _as_received(msg: EmailMessage) -> EmailMessage:
    """The letter serialized as it goes on the wire and parsed back as a mail client does."""
    parsed = email.message_from_bytes(msg.as_bytes(), policy=default_policy)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_reply_headers_thread_it_under_the_citizens_letter() -> None:
    got = _as_received(_reply())
    assert got["From"].addresses[0].addr_spec == "mcu@example.ru"
    assert got["From"].addresses[0].display_name == "МЦУ Октябрьского района"
    assert got["To"] == "ivan.petrov@mail.example"
    assert got["Subject"] == "Re: Яма на Ленина [МЦУ-2026-000123]"
    assert got["In-Reply-To"] == "<CAF1a.2@mail.example>"
    assert got["References"] == "<root.1@mail.example> <CAF1a.2@mail.example>"
    assert got["Message-ID"] == "<mcu-answer-5-9@example.ru>"
    assert got["Date"].datetime == NOW


def test_cyrillic_subject_and_body_are_encoded_7bit_clean_in_utf8() -> None:
    msg = _reply()
    wire = msg.as_bytes()
    assert wire.isascii()  # RFC 2047 subject, base64 body: safe through any relay
    assert b"=?utf-8?" in wire.split(b"\r\n\r\n", 1)[0]
    got = _as_received(msg)
    assert got.get_content_type() == "text/plain"
    assert got.get_content_charset() == "utf-8"
    body = got.get_content()
    assert ANSWER.splitlines()[0] in body and "мастер Ким Д. В." in body
    assert "Номер обращения: МЦУ-2026-000123" in body
    assert "https://mcu.example.ru/track" in body
    assert body.index("мастер Ким") < body.index("Номер обращения")  # footer after the answer


def test_subject_defaults_and_is_not_re_re() -> None:
    assert reply_subject(None, "МЦУ-2026-000001") == f"Re: {DEFAULT_SUBJECT} [МЦУ-2026-000001]"
    assert reply_subject("  ", None) == f"Re: {DEFAULT_SUBJECT}"
    assert reply_subject("RE: Re[2]: Свет", "N-1") == "Re: Свет [N-1]"
    # The citizen answered our reply: the number is already there.
    assert reply_subject("Re: Свет [N-1]", "N-1") == "Re: Свет [N-1]"
    assert len(reply_subject("я" * 5000, "N-1")) < 250


def test_no_threading_headers_without_a_real_message_id() -> None:
    for parent in ("sha256:" + "0" * 64, "", None, "no-brackets@x", "<a@b>\r\nBcc: evil@x.ru"):
        got = _as_received(_reply(parent_id=parent))
        assert got["In-Reply-To"] is None and got["References"] is None, parent


def test_a_malicious_subject_cannot_inject_headers() -> None:
    evil = "Яма\r\nBcc: spy@evil.example\r\n\r\nподделка\u2028X-Injected: 1\x00"
    msg = _reply(subject=evil)
    got = _as_received(msg)
    assert got["Bcc"] is None and got["X-Injected"] is None
    assert (
        got["Subject"] == "Re: Яма Bcc: spy@evil.example подделка X-Injected: 1 [МЦУ-2026-000123]"
    )
    header_block = msg.as_bytes().split(b"\r\n\r\n", 1)[0]
    assert not any(line.lower().startswith(b"bcc") for line in header_block.split(b"\r\n"))
    assert ANSWER.splitlines()[0] in got.get_content()


@pytest.mark.parametrize(
    "contact",
    [
        "ivan@mail.example\r\nBcc: spy@evil.example",
        "ivan@mail.example\nBcc: spy@evil.example",
        "ivan@mail.example, spy@evil.example",
        "Иван <ivan@mail.example>",
        "иван@mail.example",
        "ivan@",
        "@mail.example",
        "ivan..petrov@mail.example",
        "ivan@localhost",
        "",
        None,
    ],
)
def test_a_malicious_or_broken_contact_is_refused(contact: str | None) -> None:
    with pytest.raises(CollectorError):
        reply_address(contact)
    with pytest.raises(CollectorError):
        _reply(to=contact or "")


def test_international_domains_go_out_as_punycode() -> None:
    assert reply_address(" Ivan@Почта.РФ ") == "Ivan@xn--80a1acny.xn--p1ai"
    assert _as_received(_reply(to="ivan@почта.рф"))["To"] == "ivan@xn--80a1acny.xn--p1ai"


def test_reply_for_a_stored_message_uses_its_contact_id_and_subject() -> None:
    options = SmtpOptions(host="smtp.example.ru", sender="МЦУ <mcu@example.ru>")
    message = Message(
        id=9,
        external_id="<orig@mail.example>",
        thread_id=None,
        contact="ivan@mail.example",
        extra={"subject": "Нет света"},
    )
    got = _as_received(
        reply_for_message(
            message,
            options=options,
            text="Свет дали.",
            number="МЦУ-2026-000007",
            track_url="http://127.0.0.1:8000/track",
            answer_id=5,
            now=NOW,
        )
    )
    assert got["To"] == "ivan@mail.example"
    assert got["Subject"] == "Re: Нет света [МЦУ-2026-000007]"
    assert got["In-Reply-To"] == got["References"] == "<orig@mail.example>"
    assert got["Message-ID"] == "<mcu-answer-5-9@example.ru>"  # the same on a resend


def test_options_from_settings() -> None:
    assert SmtpOptions.from_settings(Settings(smtp_host=None)) is None
    with pytest.raises(CollectorError, match="MCU_SMTP_FROM"):
        SmtpOptions.from_settings(Settings(smtp_host="smtp.example.ru", smtp_user="mcu"))
    for bad in ("МЦУ", "x\r\nBcc: y@z.ru", "a@b.ru, c@d.ru", "МЦУ <a@b.ru> <c@d.ru>"):
        with pytest.raises(CollectorError):
            SmtpOptions.from_settings(Settings(smtp_host="h.example", smtp_from=bad))
    options = SmtpOptions.from_settings(
        Settings(smtp_host="smtp.example.ru", smtp_user="mcu@example.ru", smtp_password="pw")
    )
    assert options is not None
    assert (options.sender, options.envelope_from, options.effective_port) == (
        "mcu@example.ru",
        "mcu@example.ru",
        587,
    )
    smtps = SmtpOptions.from_settings(
        Settings(smtp_host="h.example", smtp_from="МЦУ <mcu@example.ru>", smtp_ssl=True)
    )
    plain = SmtpOptions.from_settings(
        Settings(smtp_host="h.example", smtp_from="mcu@example.ru", smtp_starttls=False)
    )
    assert smtps is not None and smtps.effective_port == 465
    assert smtps.envelope_from == "mcu@example.ru" and smtps.sender == "МЦУ <mcu@example.ru>"
    assert plain is not None and plain.effective_port == 25
