"""Answers to e-mail messages go back as reply letters through smtplib to a local SMTP server."""

from __future__ import annotations

import importlib.util
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import pipeline
from app.context import AppContext
from app.publish import EMAIL_OFF, deliver_published
from collectors.errors import CollectorError, SourceAuthError, TemporaryError
from collectors.mail_send import SmtpOptions, build_reply, send_reply, smtp_session
from collectors.repository import ensure_source, store_messages
from core.models import Answer, Incident, IncidentEvent, Message
from core.types import RawMessage
from incidents import service

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
CITIZEN = "ivan.petrov@mail.example"
TEXT = "Яма на Ленина\nНа ул. Ленина 7 в Амурзете огромная яма, машины бьют подвеску"
ANSWER = "20.11.2026 выполнен ямочный ремонт силами ДРСУ, ответственный — мастер Ким Д. В."
USER, PASSWORD = "mcu@example.ru", "s3cret"


def _load(name: str) -> Any:
    # --import-mode=importlib puts no test folder on sys.path: load the sibling by its path.
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


smtp_server = _load("smtp_server")


@pytest.fixture
def serve() -> Iterator[Callable[..., Any]]:
    """Start local SMTP servers (Mailbox kwargs, then aiosmtpd kwargs); all stopped after."""
    started: list[Any] = []

    def start(*, smtp: dict[str, Any] | None = None, **mailbox: Any) -> Any:
        server = smtp_server.SmtpServer(smtp_server.Mailbox(**mailbox), **(smtp or {}))
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


def _ctx(app_ctx: AppContext, **smtp: Any) -> AppContext:
    update = {f"smtp_{key}": value for key, value in smtp.items()}
    return replace(app_ctx, settings=app_ctx.settings.model_copy(update=update))


def _smtp_ctx(app_ctx: AppContext, server: Any, *, password: str = PASSWORD) -> AppContext:
    return _ctx(
        app_ctx,
        host="127.0.0.1",
        port=server.port,
        user=USER,
        password=password,
        starttls=False,  # loopback without TLS here; TLS is tested below
        **{"from": "МЦУ Октябрьского района <mcu@example.ru>"},
    )


def _email(session: Session, external_id: str, *, contact: str | None = CITIZEN) -> Message:
    source = ensure_source(session, name="mail-test", kind="email", settings={"host": "imap"})
    raw = RawMessage(
        source=source.name,
        external_id=external_id,
        text=TEXT,
        created_at=NOW,
        thread_id="<root.1@mail.example>",
        contact=contact,
        extra={"subject": "Яма на Ленина"},
    )
    store_messages(session, source=source, now=NOW, messages=[raw])
    message = session.scalar(select(Message).where(Message.external_id == external_id))
    assert message is not None
    return message


def _incident(app_ctx: AppContext, session: Session) -> Incident:
    _email(session, "<CAF1a.2@mail.example>")
    pipeline.process_pending(app_ctx, session, NOW)
    incident = session.scalar(select(Incident))
    assert incident is not None and incident.number
    return incident


def _attach(session: Session, incident: Incident, external_id: str, contact: str) -> None:
    """Another letter merged into the incident, as an operator's merge leaves it."""
    message = _email(session, external_id, contact=contact)
    message.incident_id, message.status = incident.id, "processed"
    session.flush()


def _publish(app_ctx: AppContext, session: Session, incident: Incident) -> Answer:
    answer = service.add_answer(
        session,
        incident=incident,
        author=None,
        kind="final",
        text=ANSWER,
        now=NOW + timedelta(hours=2),
        calendar=app_ctx.calendar,
    )
    answer.published_at = NOW + timedelta(hours=2)
    return answer


def _channels(session: Session) -> list[str]:
    event = session.scalar(select(IncidentEvent).where(IncidentEvent.action == "answer_delivered"))
    assert event is not None
    return list(event.payload["channels"])


def test_email_answer_is_one_reply_letter(
    app_ctx: AppContext, seeded_session: Session, serve: Callable[..., Any]
) -> None:
    server = serve(user=USER, password=PASSWORD)
    ctx = _smtp_ctx(app_ctx, server)
    incident = _incident(ctx, seeded_session)
    answer = _publish(ctx, seeded_session, incident)
    assert deliver_published(ctx, seeded_session, NOW + timedelta(hours=3)) == {"delivered": 1}
    assert server.mailbox.logins == [(USER, PASSWORD)]
    [letter] = server.mailbox.received
    assert (letter.mail_from, letter.rcpt_tos) == ("mcu@example.ru", [CITIZEN])
    got = letter.message()
    assert got["To"] == CITIZEN
    assert got["From"].addresses[0].display_name == "МЦУ Октябрьского района"
    assert got["Subject"] == f"Re: Яма на Ленина [{incident.number}]"
    assert got["In-Reply-To"] == "<CAF1a.2@mail.example>"
    assert got["References"] == "<root.1@mail.example> <CAF1a.2@mail.example>"
    body = got.get_content()
    assert ANSWER in body and f"Номер обращения: {incident.number}" in body
    assert f"{ctx.settings.base_url}/track" in body
    assert answer.delivered_at is not None
    assert "email: отправлено на 1 адрес(ов)" in _channels(seeded_session)
    assert deliver_published(ctx, seeded_session, NOW + timedelta(hours=4)) == {"delivered": 0}
    assert len(server.mailbox.received) == 1


def test_one_letter_per_citizen_address(
    app_ctx: AppContext, seeded_session: Session, serve: Callable[..., Any]
) -> None:
    server = serve(user=USER, password=PASSWORD)
    ctx = _smtp_ctx(app_ctx, server)
    incident = _incident(ctx, seeded_session)
    _attach(seeded_session, incident, "<again@mail.example>", CITIZEN.upper())
    _attach(seeded_session, incident, "<other@mail.example>", "olga@mail.example")
    _attach(seeded_session, incident, "<evil@mail.example>", "x@mail.example\r\nBcc: spy@e.ru")
    _publish(ctx, seeded_session, incident)
    deliver_published(ctx, seeded_session, NOW + timedelta(hours=3))
    got = {r.rcpt_tos[0]: r.message()["In-Reply-To"] for r in server.mailbox.received}
    assert got == {CITIZEN: "<CAF1a.2@mail.example>", "olga@mail.example": "<other@mail.example>"}
    assert set(_channels(seeded_session)) == {
        "email: ошибка — адрес для ответа содержит управляющие символы",
        "email: отправлено на 2 адрес(ов)",
    }


def test_smtp_auth_failure_is_reported_in_the_audit_event(
    app_ctx: AppContext, seeded_session: Session, serve: Callable[..., Any]
) -> None:
    server = serve(user=USER, password=PASSWORD)
    ctx = _smtp_ctx(app_ctx, server, password="wrong")
    incident = _incident(ctx, seeded_session)
    answer = _publish(ctx, seeded_session, incident)
    assert deliver_published(ctx, seeded_session, NOW + timedelta(hours=3)) == {"delivered": 1}
    assert server.mailbox.received == []
    [line] = _channels(seeded_session)
    assert line.startswith(f"email: ошибка — SMTP отказал во входе {USER}: 535")
    assert answer.delivered_at is not None  # reported for a person, never retried blindly


def test_without_smtp_the_answer_is_not_mailed(
    app_ctx: AppContext, seeded_session: Session
) -> None:
    ctx = _ctx(app_ctx, host=None)
    incident = _incident(ctx, seeded_session)
    _publish(ctx, seeded_session, incident)
    assert deliver_published(ctx, seeded_session, NOW + timedelta(hours=3)) == {"delivered": 1}
    assert _channels(seeded_session) == [EMAIL_OFF]


# --- the SMTP client against the server, without a database ---------------------------------


def _options(server: Any, **overrides: Any) -> SmtpOptions:
    base: dict[str, Any] = {"host": "127.0.0.1", "port": server.port, "sender": USER}
    base.update(user=USER, password=PASSWORD, starttls=False, timeout=5.0)
    return SmtpOptions(**{**base, **overrides})


def _letter(to: str = CITIZEN) -> Any:
    return build_reply(
        sender=USER,
        to=to,
        text=ANSWER,
        number="МЦУ-2026-000001",
        subject=None,
        parent_id=None,
        root_id=None,
        track_url="http://127.0.0.1:8000/track",
        message_id="<mcu-answer-1-1@example.ru>",
        date=NOW,
    )


def test_refusals_map_by_reply_code(serve: Callable[..., Any]) -> None:
    refuse = {"gone@mail.example": "550 5.1.1 No such user", "busy@mail.example": "451 4.3.0 Later"}
    server = serve(user=USER, password=PASSWORD, refuse=refuse)
    with smtp_session(_options(server)) as conn:
        with pytest.raises(CollectorError, match=r"550 5\.1\.1 No such user") as final:
            send_reply(conn, _letter("gone@mail.example"), envelope_from=USER)
        assert not isinstance(final.value, TemporaryError)
        with pytest.raises(TemporaryError, match="451"):
            send_reply(conn, _letter("busy@mail.example"), envelope_from=USER)
        send_reply(conn, _letter(), envelope_from=USER)  # the session is still usable
    assert [r.rcpt_tos for r in server.mailbox.received] == [[CITIZEN]]
    with pytest.raises(SourceAuthError, match="535"), smtp_session(_options(server, password="x")):
        pass


def test_unreachable_and_silent_servers_are_temporary() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never greets
        port = silent.getsockname()[1]
        with pytest.raises(TemporaryError), smtp_session(_options_at(port, timeout=0.5)):
            pass
    with pytest.raises(TemporaryError), smtp_session(_options_at(port)):  # nobody listens now
        pass


def _options_at(port: int, **overrides: Any) -> SmtpOptions:
    return SmtpOptions(host="127.0.0.1", port=port, sender=USER, starttls=False, **overrides)


OPENSSL_REQ = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt"]
OPENSSL_REQ += ["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"]
OPENSSL_REQ += ["-addext", "subjectAltName=IP:127.0.0.1"]


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for a self-signed 127.0.0.1 certificate."""
    if shutil.which("openssl") is None:
        pytest.skip("нет программы openssl: TLS к SMTP не проверить")
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [*OPENSSL_REQ, "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True
    )
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    return server_ctx, ssl.create_default_context(cafile=str(cert))


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_tls_is_verified_and_never_skipped(
    serve: Callable[..., Any], tls: tuple[ssl.SSLContext, ssl.SSLContext], mode: str
) -> None:
    server_ctx, trusting = tls
    smtp = {"ssl_context": server_ctx} if mode == "smtps" else {"tls_context": server_ctx}
    server = serve(user=USER, password=PASSWORD, smtp={**smtp, "require_starttls": mode != "smtps"})
    options = _options(server, starttls=mode == "starttls", implicit_tls=mode == "smtps")
    with smtp_session(options, ssl_context=trusting) as conn:
        send_reply(conn, _letter(), envelope_from=USER)
    assert len(server.mailbox.received) == 1
    with pytest.raises(CollectorError, match="certificate verify failed"), smtp_session(options):
        pass
    assert server.mailbox.logins == [(USER, PASSWORD)]  # the untrusted try sent no password


def test_no_plain_text_login_when_starttls_is_missing(serve: Callable[..., Any]) -> None:
    server = serve(user=USER, password=PASSWORD)  # offers no STARTTLS
    options = _options(server, starttls=True)
    with pytest.raises(CollectorError, match="STARTTLS") as refused, smtp_session(options):
        pass
    assert not isinstance(refused.value, TemporaryError)
    assert server.mailbox.logins == []
