"""A local SMTP server for tests: aiosmtpd (RFC 5321, AUTH, STARTTLS) recording every letter."""

from __future__ import annotations

import asyncio
import email
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    """One letter as the server got it: envelope and raw content."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    def message(self) -> EmailMessage:
        """The letter parsed the way a mail client does."""
        parsed = email.message_from_bytes(self.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Mailbox:
    """The handler and authenticator: accepts `user`/`password`, refuses listed recipients."""

    user: str | None = None
    password: str | None = None
    refuse: dict[str, str] = field(default_factory=dict)  # address -> SMTP reply
    received: list[Received] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """aiosmtpd's authenticator: AUTH PLAIN and LOGIN arrive as LoginPassword."""
        assert isinstance(data, LoginPassword)
        login, password = data.login.decode(), data.password.decode()
        self.logins.append((login, password))
        # handled=False: the server itself answers «535 5.7.8» to a failed login.
        return AuthResult(success=(login, password) == (self.user, self.password), handled=False)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.user and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """aiosmtpd's threaded controller on an ephemeral port (port 0, read back once bound)."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    """A running server on 127.0.0.1; `stop()` closes it and its sessions."""

    def __init__(self, mailbox: Mailbox, **smtp_kwargs: Any) -> None:
        self.mailbox = mailbox
        if mailbox.user:
            smtp_kwargs["authenticator"] = mailbox
        self._controller = _Controller(
            mailbox, hostname="127.0.0.1", port=0, auth_require_tls=False, **smtp_kwargs
        )

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def start(self) -> SmtpServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()
