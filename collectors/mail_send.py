"""Official answers back to the citizen by e-mail: a reply letter (pure) and SMTP delivery.

The reply answers the citizen's own letter: To is the address the collector kept as the
contact (Reply-To or From), In-Reply-To/References name the original Message-ID so mail
clients thread it, the subject is «Re: <their subject>» with the incident number. After a
final answer the letter ends with «Проблема решена? …»; the citizen's reply to that
Message-ID is read as their verdict (app/feedback_replies.py).

Delivery policy (chosen on purpose, see app/publish.py): one pass delivers an answer to
every channel once and marks it delivered. An SMTP failure, temporary or not, is written
into the `answer_delivered` audit event («email: ошибка — …») and is not retried
automatically, because retrying the whole answer would post the VK comment and the
Telegram message a second time. Each reply carries a Message-ID derived from the answer
and the message, so a resend of the same answer is recognised by the recipient's mailer.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime

from collectors.errors import CollectorError, SourceAuthError, TemporaryError
from config.settings import Settings
from core.models import Message

__all__ = [
    "DEFAULT_SUBJECT",
    "SendReport",
    "SmtpOptions",
    "build_reply",
    "reply_address",
    "reply_for_message",
    "reply_subject",
    "send_replies",
    "send_reply",
    "sender_parts",
    "smtp_session",
]

log = logging.getLogger("mcu.collectors.mail_send")
DEFAULT_SUBJECT = "Ответ на ваше обращение"
SUBJECT_LIMIT = 200
# Printable ASCII without spaces and angle brackets on both sides of the "@" (RFC 5322 msg-id).
_MSG_ID = re.compile(r"<[!-;=?-~]+@[!-;=?-~]+>")
_LOCAL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+")
_DOMAIN = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
# Control characters and Unicode line breaks: nothing that could end a header line.
_BREAKS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")
_SENDER = re.compile(r"(?:(?P<name>[^<>]*?)\s*<(?P<addr>[^<>]+)>|(?P<bare>[^<>\s]+))")
_RE_PREFIX = re.compile(r"^\s*((re|fwd?|ответ)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SmtpOptions:
    """The outgoing mail server, from MCU_SMTP_* settings."""

    host: str
    sender: str  # the From header, display name allowed
    port: int | None = None
    user: str | None = None
    password: str | None = None
    starttls: bool = True
    implicit_tls: bool = False  # SMTPS (465) instead of STARTTLS
    timeout: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpOptions | None:
        """Options when MCU_SMTP_HOST is set, None otherwise; no sender is an admin's error."""
        if not settings.smtp_host:
            return None
        user = settings.smtp_user or ""
        sender = _one_line(settings.smtp_from or (user if "@" in user else ""))
        if not sender:
            raise CollectorError("не задан адрес отправителя MCU_SMTP_FROM")
        sender_parts(sender)  # a bad MCU_SMTP_FROM fails here, not at the first letter
        return cls(
            host=settings.smtp_host,
            sender=sender,
            port=settings.smtp_port,
            user=settings.smtp_user or None,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            implicit_tls=settings.smtp_ssl,
            timeout=settings.smtp_timeout,
        )

    @property
    def effective_port(self) -> int:
        """The configured port or the standard one for the security mode."""
        if self.port:
            return self.port
        return 465 if self.implicit_tls else 587 if self.starttls else 25

    @property
    def envelope_from(self) -> str:
        """The bare address of the sender (MAIL FROM)."""
        return sender_parts(self.sender)[1]


# --- the letter (pure) ------------------------------------------------------------------


def _one_line(value: str) -> str:
    return " ".join(_BREAKS.sub(" ", value).split())


def reply_address(contact: str | None) -> str:
    """One bare ASCII address from a stored contact; anything else is refused."""
    raw = (contact or "").strip()
    if not raw:
        raise CollectorError("у письма нет адреса для ответа")
    if _BREAKS.search(raw):
        raise CollectorError("адрес для ответа содержит управляющие символы")
    local, at, domain = raw.rpartition("@")
    if not at or not _LOCAL.fullmatch(local) or ".." in local:
        raise CollectorError(f"некорректный адрес для ответа: {raw[:100]!r}")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise CollectorError(f"некорректный домен адреса: {raw[:100]!r}") from exc
    if not _DOMAIN.fullmatch(domain):
        raise CollectorError(f"некорректный адрес для ответа: {raw[:100]!r}")
    return f"{local}@{domain.lower()}"


def sender_parts(sender: str) -> tuple[str, str]:
    """(display name, address) of «Name <addr>» or a bare address; anything else is refused."""
    found = _SENDER.fullmatch(_one_line(sender))
    if found is None:
        raise CollectorError(f"MCU_SMTP_FROM не похож на адрес: {sender[:100]!r}")
    name = (found["name"] or "").strip().strip('"').strip()
    return name, reply_address(found["addr"] or found["bare"])


def reply_subject(original: str | None, number: str | None) -> str:
    """«Re: <their subject> [number]», one line; the default subject when they gave none."""
    base = _RE_PREFIX.sub("", _one_line(original or ""))[:SUBJECT_LIMIT].strip()
    subject = f"Re: {base or DEFAULT_SUBJECT}"
    return f"{subject} [{number}]" if number and number not in subject else subject


def _msg_id(value: str | None) -> str | None:
    return value if value and _MSG_ID.fullmatch(value) else None


def _body(text: str, *, number: str | None, track_url: str, question: str | None) -> str:
    lines = [text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "").strip(), "", "--"]
    if number:
        lines.append(f"Номер обращения: {number}")
    lines.append(f"Узнать о ходе рассмотрения: {track_url}")
    if question:  # the last line: the citizen's reply to it is read as their verdict
        lines += ["", question]
    return "\n".join(lines) + "\n"


def build_reply(
    *,
    sender: str,
    to: str,
    text: str,
    number: str | None,
    subject: str | None,
    parent_id: str | None,
    root_id: str | None,
    track_url: str,
    message_id: str,
    date: datetime,
    question: str | None = None,
) -> EmailMessage:
    """The reply letter: UTF-8 text, threading headers only from valid Message-IDs.

    `question` («Проблема решена? …», after a final answer) ends the letter.
    """
    msg = EmailMessage(policy=SMTP_POLICY)
    name, address = sender_parts(sender)
    msg["From"] = Address(display_name=name, addr_spec=address)
    msg["To"] = reply_address(to)
    msg["Subject"] = reply_subject(subject, number)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    parent = _msg_id(parent_id)
    if parent:
        msg["In-Reply-To"] = parent
        root = _msg_id(root_id)
        msg["References"] = f"{root} {parent}" if root and root != parent else parent
    # base64 keeps the letter 7-bit clean for relays without 8BITMIME.
    body = _body(text, number=number, track_url=track_url, question=question)
    msg.set_content(body, charset="utf-8", cte="base64")
    return msg


def reply_for_message(
    message: Message,
    *,
    options: SmtpOptions,
    text: str,
    number: str | None,
    track_url: str,
    answer_id: int,
    now: datetime,
    question: str | None = None,
) -> EmailMessage:
    """The reply to one stored e-mail message (its contact, Message-ID and subject)."""
    domain = options.envelope_from.rpartition("@")[2]
    subject = (message.extra or {}).get("subject")
    return build_reply(
        sender=options.sender,
        to=message.contact or "",
        text=text,
        number=number,
        subject=subject if isinstance(subject, str) else None,
        parent_id=message.external_id,
        root_id=message.thread_id,
        track_url=track_url,
        message_id=f"<mcu-answer-{answer_id}-{message.id}@{domain}>",
        date=now,
        question=question,
    )


# --- SMTP (I/O) -------------------------------------------------------------------------


def _by_code(code: int, text: str) -> CollectorError:
    """4xx replies are worth a later try; 5xx are final (RFC 5321 4.2.1)."""
    return TemporaryError(text) if 400 <= code < 500 else CollectorError(text)


def _reason(exc: smtplib.SMTPResponseException) -> str:
    error = exc.smtp_error
    text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
    return f"{exc.smtp_code} {_one_line(text)}"[:300]


def _connect(options: SmtpOptions, context: ssl.SSLContext) -> smtplib.SMTP:
    host, port = options.host, options.effective_port
    # The sender's domain as the EHLO name: getfqdn() may wait on DNS for a long time.
    helo = options.envelope_from.rpartition("@")[2]
    try:
        if options.implicit_tls:
            return smtplib.SMTP_SSL(
                host, port, local_hostname=helo, timeout=options.timeout, context=context
            )
        return smtplib.SMTP(host, port, local_hostname=helo, timeout=options.timeout)
    except ssl.SSLCertVerificationError as exc:
        raise CollectorError(f"сертификат SMTP-сервера {host} не принят: {exc}") from exc
    except (OSError, smtplib.SMTPException) as exc:  # SMTPException is an OSError too
        raise TemporaryError(f"SMTP {host}:{port} недоступен: {exc}") from exc


def _starttls(conn: smtplib.SMTP, options: SmtpOptions, context: ssl.SSLContext) -> None:
    try:
        conn.ehlo()
        if not conn.has_extn("starttls"):
            # Never send the password and the letters in plain text instead.
            raise CollectorError(f"SMTP-сервер {options.host} не предлагает STARTTLS")
        conn.starttls(context=context)
        conn.ehlo()
    except ssl.SSLCertVerificationError as exc:
        raise CollectorError(f"сертификат SMTP-сервера {options.host} не принят: {exc}") from exc
    except smtplib.SMTPResponseException as exc:
        raise _by_code(exc.smtp_code, f"STARTTLS: {_reason(exc)}") from exc
    except OSError as exc:
        raise TemporaryError(f"STARTTLS с {options.host} не удался: {exc}") from exc


def _login(conn: smtplib.SMTP, options: SmtpOptions) -> None:
    try:
        conn.login(options.user or "", options.password or "")
    except smtplib.SMTPAuthenticationError as exc:
        if 400 <= exc.smtp_code < 500:
            raise TemporaryError(f"SMTP временно не принимает вход: {_reason(exc)}") from exc
        raise SourceAuthError(f"SMTP отказал во входе {options.user}: {_reason(exc)}") from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise SourceAuthError(f"SMTP-сервер {options.host} не принимает AUTH: {exc}") from exc
    except UnicodeEncodeError as exc:  # smtplib sends AUTH arguments as ASCII
        raise SourceAuthError("логин и пароль SMTP должны быть в ASCII") from exc
    except smtplib.SMTPServerDisconnected as exc:
        raise TemporaryError(f"SMTP оборвал соединение при входе: {exc}") from exc
    except smtplib.SMTPException as exc:  # "No suitable authentication method found."
        raise SourceAuthError(f"SMTP-вход {options.user} невозможен: {exc}") from exc
    except OSError as exc:
        raise TemporaryError(f"SMTP оборвал соединение при входе: {exc}") from exc


def _quit(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (OSError, smtplib.SMTPException):
        conn.close()


@contextmanager
def smtp_session(
    options: SmtpOptions, *, ssl_context: ssl.SSLContext | None = None
) -> Iterator[smtplib.SMTP]:
    """A connected (and, when configured, encrypted and logged-in) SMTP session, always closed."""
    context = ssl_context or ssl.create_default_context()
    conn = _connect(options, context)
    try:
        if options.starttls and not options.implicit_tls:
            _starttls(conn, options, context)
        if options.user:
            _login(conn, options)
        yield conn
    finally:
        _quit(conn)


def send_reply(conn: smtplib.SMTP, msg: EmailMessage, *, envelope_from: str) -> None:
    """Send one letter to its To address; refusals raise with the server's reason."""
    to = str(msg["To"])
    try:
        conn.send_message(msg, from_addr=envelope_from, to_addrs=[to])
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()), (550, b""))
        text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        raise _by_code(code, f"адрес {to} отклонён: {code} {_one_line(text)}"[:300]) from exc
    except smtplib.SMTPSenderRefused as exc:
        raise _by_code(exc.smtp_code, f"отправитель отклонён: {_reason(exc)}") from exc
    except smtplib.SMTPResponseException as exc:  # SMTPDataError and the like
        raise _by_code(exc.smtp_code, f"письмо на {to} отклонено: {_reason(exc)}") from exc
    except OSError as exc:
        raise TemporaryError(f"SMTP оборвал соединение: {exc}") from exc


@dataclass
class SendReport:
    """What one delivery pass achieved: addresses written to and reasons of failures."""

    sent: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def send_replies(
    options: SmtpOptions,
    letters: Sequence[EmailMessage],
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> SendReport:
    """Send letters over one session; each failure is reported, none is raised."""
    report = SendReport()
    if not letters:
        return report
    try:
        with smtp_session(options, ssl_context=ssl_context) as conn:
            for msg in letters:
                try:
                    send_reply(conn, msg, envelope_from=options.envelope_from)
                except CollectorError as exc:
                    log.warning("SMTP %s: %s", options.host, exc)
                    report.errors.append(str(exc))
                else:
                    report.sent.append(str(msg["To"]))
    except CollectorError as exc:
        log.warning("SMTP %s: %s", options.host, exc)
        report.errors.append(str(exc))
    return report
