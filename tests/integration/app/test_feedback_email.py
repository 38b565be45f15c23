"""«Проблема решена?» by e-mail: the reply letter asks, the citizen's answer letter is the verdict.

End to end through the real parts: the IMAP collector (imaplib against the local IMAP
server) brings the citizen's letter, the worker processes it, the answer job sends the
reply letter through smtplib to aiosmtpd, and the citizen's reply comes back by IMAP.

Decided: only the address that was asked may give the verdict. A reply from another
address, even one that quotes our letter, goes through the normal pipeline.
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
from app.feedback_replies import EMAIL_QUESTION
from app.publish import deliver_published
from collectors.repository import ensure_source
from core.models import CitizenFeedback, FeedbackRequest, Incident, Message
from incidents import service

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
SOURCE = "mail-mcu"
CITIZEN, NEIGHBOUR = "ivan.petrov@mail.example", "olga@mail.example"
COMPLAINT = "На ул. Ленина 7 в Амурзете огромная яма, машины бьют подвеску"
ANSWER = "20.11.2026 выполнен ямочный ремонт силами ДРСУ, ответственный — мастер Ким Д. В."
MCU, PASSWORD = "mcu@example.ru", "s3cret"
TESTS = Path(__file__).resolve().parents[1]


def _load(name: str, path: Path) -> Any:
    # --import-mode=importlib puts no test folder on sys.path: load the helper by its path.
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


imap_server = _load("mcu_test_imap_server", TESTS / "collectors" / "imap_server.py")
smtp_server = _load("smtp_server", TESTS / "app" / "smtp_server.py")


@pytest.fixture
def imap() -> Iterator[Any]:
    server = imap_server.serve(user=MCU, password=PASSWORD)
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[Any]:
    server = smtp_server.SmtpServer(smtp_server.Mailbox(user=MCU, password=PASSWORD)).start()
    yield server
    server.stop()


@pytest.fixture
def ctx(app_ctx: AppContext, seeded_session: Session, imap: Any, smtp: Any) -> AppContext:
    settings = {"host": "127.0.0.1", "port": imap.port, "user": MCU, "ssl": "none"}
    ensure_source(seeded_session, name=SOURCE, kind="email", settings=settings, secret=PASSWORD)
    update = {
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp.port,
        "smtp_user": MCU,
        "smtp_password": PASSWORD,
        "smtp_starttls": False,  # loopback without TLS; TLS is tested in test_answer_email.py
        "smtp_from": f"МЦУ Октябрьского района <{MCU}>",
    }
    return replace(app_ctx, settings=app_ctx.settings.model_copy(update=update))


def _letter(
    sender: str, subject: str, body: str, *, mid: str, in_reply_to: str | None = None
) -> bytes:
    headers = [
        f"From: Житель <{sender}>",
        f"To: {MCU}",
        f"Subject: {subject}",
        f"Message-ID: <{mid}@mail.example>",
        "Date: Wed, 18 Nov 2026 12:00:00 +1000",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    if in_reply_to:
        headers += [f"In-Reply-To: {in_reply_to}", f"References: <c1@mail.example> {in_reply_to}"]
    return ("\r\n".join(headers) + "\r\n\r\n" + body.replace("\n", "\r\n")).encode()


def _pass(ctx: AppContext, session: Session, now: datetime) -> None:
    """What the worker does: one collector pass, then processing of the new messages."""
    result = collect_source(ctx, session, name=SOURCE, now=now)
    assert result.errors == 0
    pipeline.process_pending(ctx, session, now)


def _message(session: Session, mid: str) -> Message:
    found = session.scalar(select(Message).where(Message.external_id == f"<{mid}@mail.example>"))
    assert found is not None
    return found


def _answered(ctx: AppContext, session: Session, imap: Any, smtp: Any) -> tuple[Incident, Any]:
    """The citizen's letter becomes an incident; its final answer is mailed back."""
    imap.inbox.add(_letter(CITIZEN, "Яма на Ленина", COMPLAINT, mid="c1"))
    _pass(ctx, session, NOW)
    incident = session.get(Incident, _message(session, "c1").incident_id)
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
    [sent] = smtp.mailbox.received
    return incident, sent.message()


def _quoting(text: str, letter: Any) -> str:
    """A reply as a mail client writes it: the new text, the attribution, the quoted letter."""
    quoted = "\n".join(f"> {line}" for line in letter.get_content().splitlines())
    return f"{text}\n\nср, 18 нояб. 2026 г. в 14:00, МЦУ <{MCU}>:\n\n{quoted}\n"


def _feedback(session: Session) -> list[CitizenFeedback]:
    return list(session.scalars(select(CitizenFeedback).order_by(CitizenFeedback.id)))


def test_no_in_reply_to_our_letter_reopens_the_incident(
    ctx: AppContext, seeded_session: Session, imap: Any, smtp: Any
) -> None:
    incident, letter = _answered(ctx, seeded_session, imap, smtp)
    assert letter.get_content().rstrip("\n").splitlines()[-1] == EMAIL_QUESTION
    request = seeded_session.scalar(select(FeedbackRequest))
    assert request is not None
    assert (request.ref, request.contact) == (letter["Message-ID"], CITIZEN)
    incidents_before = seeded_session.scalar(select(func.count(Incident.id)))

    reply = _quoting("Нет, яма на месте.\nМашины по-прежнему бьют подвеску.", letter)
    imap.inbox.add(
        _letter(CITIZEN, letter["Subject"], reply, mid="r1", in_reply_to=letter["Message-ID"])
    )
    _pass(ctx, seeded_session, NOW + timedelta(hours=4))

    [feedback] = _feedback(seeded_session)
    assert (feedback.verdict, feedback.channel) == ("no", "email")
    assert feedback.comment == "яма на месте.\nМашины по-прежнему бьют подвеску."
    assert incident.status == "reopened"
    message = _message(seeded_session, "r1")
    assert (message.status, message.incident_id) == ("linked", incident.id)
    assert seeded_session.scalar(select(func.count(Incident.id))) == incidents_before


def test_subject_number_from_the_same_address_and_no_double_count(
    ctx: AppContext, seeded_session: Session, imap: Any, smtp: Any
) -> None:
    incident, letter = _answered(ctx, seeded_session, imap, smtp)
    # A fresh letter (no In-Reply-To) with the number in the subject, from the address asked.
    imap.inbox.add(_letter(CITIZEN, f"Обращение {incident.number}", "Да, спасибо!", mid="r1"))
    reply = _quoting("да", letter)
    imap.inbox.add(
        _letter(CITIZEN, letter["Subject"], reply, mid="r2", in_reply_to=letter["Message-ID"])
    )
    _pass(ctx, seeded_session, NOW + timedelta(hours=4))

    [feedback] = _feedback(seeded_session)
    assert (feedback.verdict, feedback.comment) == ("yes", "спасибо!")
    assert incident.status == "resolved"
    assert _message(seeded_session, "r2").extra["feedback"]["repeated"] is True


def test_other_addresses_and_other_words_go_through_the_normal_pipeline(
    ctx: AppContext, seeded_session: Session, imap: Any, smtp: Any
) -> None:
    incident, letter = _answered(ctx, seeded_session, imap, smtp)
    subject, our_id = letter["Subject"], letter["Message-ID"]
    forwarded = _quoting("Нет, не решена", letter)
    imap.inbox.add(_letter(NEIGHBOUR, subject, forwarded, mid="n1", in_reply_to=our_id))
    imap.inbox.add(_letter(NEIGHBOUR, f"Re: [{incident.number}]", "Нет", mid="n2"))
    question = _quoting("Спасибо за ответ. А когда отремонтируют тротуар на Ленина?", letter)
    imap.inbox.add(_letter(CITIZEN, subject, question, mid="q1", in_reply_to=our_id))
    _pass(ctx, seeded_session, NOW + timedelta(hours=4))

    assert _feedback(seeded_session) == []
    assert incident.status == "answered"
    for mid in ("n1", "n2", "q1"):
        message = _message(seeded_session, mid)
        assert message.status in ("classified", "linked")  # classified, then intake as usual
        assert "feedback" not in message.extra
