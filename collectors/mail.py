"""E-mail collector: polls one IMAP folder by UID, without marking letters as read.

Named `mail.py`, not `email.py`: a module called `email` shadows the standard library
whenever its directory lands on sys.path (running a file from collectors/, some tools).
"""

from __future__ import annotations

import base64
import imaplib
import logging
import re
import ssl
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from collectors.base import Batch
from collectors.errors import (
    CollectorError,
    SourceAuthError,
    SourceInaccessibleError,
    TemporaryError,
)
from collectors.mail_parse import parse_message
from core.models import Source
from core.types import RawMessage

__all__ = ["ImapCollector", "ImapOptions", "imap_utf7"]

log = logging.getLogger("mcu.collectors.mail")
SECURITY_MODES = ("ssl", "starttls", "none")
DEFAULT_PORTS = {"ssl": 993, "starttls": 143, "none": 143}
_UID = re.compile(rb"UID (\d+)")
# RFC 5530 codes that mean "try later" rather than "wrong credentials".
_TRANSIENT_CODES = ("[UNAVAILABLE]", "[INUSE]", "[SERVERBUG]")


@dataclass(frozen=True, slots=True)
class ImapOptions:
    """One mailbox folder to poll; built from the source row's settings."""

    source: str
    host: str
    user: str
    port: int | None = None
    folder: str = "INBOX"
    security: str = "ssl"  # "ssl" (IMAPS), "starttls" or "none" (loopback relays, tests)
    batch_size: int = 200
    mark_seen: bool = False
    timeout: float = 30.0
    max_bytes: int = 10_000_000  # longer letters are read up to here (attachments cut)
    ca_file: str | None = None

    @classmethod
    def from_settings(cls, source: str, conf: Mapping[str, Any]) -> ImapOptions:
        """Options from Source.settings; a bad value is an admin's error, said in Russian."""
        security = str(conf.get("ssl") or "ssl").lower()
        if not conf.get("host") or not conf.get("user"):
            raise CollectorError(f"у почтового источника {source!r} не указаны host и user")
        if security not in SECURITY_MODES:
            raise CollectorError(f"ssl должен быть одним из {SECURITY_MODES}, а не {security!r}")
        try:
            return cls._parsed(source, conf, security)
        except (TypeError, ValueError) as exc:
            raise CollectorError(f"настройки почтового источника {source!r}: {exc}") from exc

    @classmethod
    def _parsed(cls, source: str, conf: Mapping[str, Any], security: str) -> ImapOptions:
        return cls(
            source=source,
            host=str(conf["host"]),
            user=str(conf["user"]),
            port=int(conf["port"]) if conf.get("port") else None,
            folder=str(conf.get("folder") or "INBOX"),
            security=security,
            batch_size=max(1, int(conf.get("batch_size", 200))),
            mark_seen=bool(conf.get("mark_seen", False)),
            timeout=float(conf.get("timeout", 30.0)),
            max_bytes=max(1024, int(conf.get("max_bytes", 10_000_000))),
            ca_file=str(conf["ca_file"]) if conf.get("ca_file") else None,
        )


def _utf7_run(match: re.Match[str]) -> str:
    data = base64.b64encode(match.group().encode("utf-16-be")).rstrip(b"=").decode()
    return "&" + data.replace("/", ",") + "-"


def imap_utf7(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 5.1.3), quoted for the command."""
    encoded = re.sub(r"[^\x20-\x7e]+", _utf7_run, name.replace("&", "&-"))
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def new_uids(found: Sequence[bytes], *, last_uid: int) -> list[int]:
    """UIDs above `last_uid`, ascending: `n:*` also returns the newest one when n > max."""
    uids = {int(token) for chunk in found if chunk for token in chunk.split()}
    return sorted(uid for uid in uids if uid > last_uid)


def body_of(data: Sequence[Any], uid: int) -> bytes | None:
    """The message literal of a UID FETCH answer; unrelated FETCH updates are skipped."""
    for index, item in enumerate(data):
        if not isinstance(item, tuple) or b"BODY[" not in item[0]:
            continue
        after = data[index + 1] if index + 1 < len(data) else b""
        # Some servers put UID after the literal: `* 1 (BODY[] {n}...literal... UID 5)`.
        match = _UID.search(item[0] + b" " + (after if isinstance(after, bytes) else b""))
        if match is None or int(match.group(1)) == uid:
            return bytes(item[1])
    return None


class ImapCollector:
    """Reads letters with UID above the cursor; a pass either completes or raises."""

    kind = "email"

    def __init__(
        self,
        *,
        options: ImapOptions,
        password: str,
        secret: str,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.options = options
        self.password = password
        self.secret = secret
        self.ssl_context = ssl_context

    @classmethod
    def from_source(cls, source: Source, *, secret: str) -> ImapCollector:
        """A collector for a source row: settings give the server, Source.secret the password."""
        if not source.secret:
            raise SourceAuthError(f"у почтового источника {source.name!r} не задан пароль")
        options = ImapOptions.from_settings(source.name, source.settings or {})
        return cls(options=options, password=source.secret, secret=secret)

    def fetch(self, *, cursor: dict[str, Any], now: datetime) -> Batch:
        """Letters since the cursor's UID, at most `batch_size`; cursor = last UID handled."""
        with self._session() as conn:
            uidvalidity = self._select(conn)
            last_uid = int(cursor.get("last_uid") or 0)
            if cursor.get("uidvalidity") != uidvalidity:
                # UIDs were renumbered: read the folder again; Message-ID dedupes in storage.
                last_uid = 0
            uids = self._search(conn, last_uid)[: self.options.batch_size]
            messages: list[RawMessage] = []
            errors = 0
            for uid in uids:
                message = self._read(conn, uid=uid, uidvalidity=uidvalidity, now=now)
                if message is None:
                    errors += 1
                else:
                    messages.append(message)
        # Skipped letters (vanished, unparsable) are passed too, or one would block the box.
        last = uids[-1] if uids else last_uid
        return Batch(messages, {"uidvalidity": uidvalidity, "last_uid": last}, errors)

    # --- connection ---------------------------------------------------------------------

    def _context(self) -> ssl.SSLContext:
        # imaplib's own default context does not verify certificates: always pass ours.
        if self.ssl_context is not None:
            return self.ssl_context
        return ssl.create_default_context(cafile=self.options.ca_file)

    def _open(self) -> imaplib.IMAP4:
        opts = self.options
        port = opts.port or DEFAULT_PORTS[opts.security]
        try:
            if opts.security == "ssl":
                return imaplib.IMAP4_SSL(
                    opts.host, port, ssl_context=self._context(), timeout=opts.timeout
                )
            conn = imaplib.IMAP4(opts.host, port, timeout=opts.timeout)
        except ssl.SSLCertVerificationError as exc:
            raise CollectorError(f"сертификат IMAP-сервера {opts.host} не принят: {exc}") from exc
        except (OSError, imaplib.IMAP4.error) as exc:
            raise TemporaryError(f"IMAP {opts.host}:{port} недоступен: {exc}") from exc
        if opts.security == "starttls":
            self._starttls(conn)
        return conn

    def _starttls(self, conn: imaplib.IMAP4) -> None:
        try:
            conn.starttls(ssl_context=self._context())
        except (ssl.SSLCertVerificationError, imaplib.IMAP4.abort) as exc:
            _close(conn, polite=False)
            # No STARTTLS offered or a bad certificate: never fall back to a plain-text login.
            raise CollectorError(f"STARTTLS с {self.options.host} не удался: {exc}") from exc
        except (OSError, imaplib.IMAP4.error) as exc:
            _close(conn, polite=False)
            raise TemporaryError(f"STARTTLS с {self.options.host} не удался: {exc}") from exc

    def _login(self, conn: imaplib.IMAP4) -> None:
        try:
            conn.login(self.options.user, self.password)
        except imaplib.IMAP4.abort as exc:
            raise TemporaryError(f"IMAP оборвал соединение при входе: {exc}") from exc
        except imaplib.IMAP4.error as exc:
            if any(code in str(exc) for code in _TRANSIENT_CODES):
                raise TemporaryError(f"IMAP временно не принимает вход: {exc}") from exc
            raise SourceAuthError(f"IMAP отказал во входе {self.options.user}: {exc}") from exc
        except UnicodeEncodeError as exc:  # imaplib sends LOGIN arguments as ASCII
            raise SourceAuthError("логин и пароль IMAP должны быть в ASCII") from exc

    @contextmanager
    def _session(self) -> Iterator[imaplib.IMAP4]:
        """A logged-in connection, always closed; network and protocol failures are temporary."""
        conn = self._open()
        try:
            self._login(conn)
            yield conn
        except (OSError, imaplib.IMAP4.error) as exc:
            raise TemporaryError(f"IMAP {self.options.host}: {exc}") from exc
        finally:
            _close(conn)

    # --- commands -----------------------------------------------------------------------

    def _select(self, conn: imaplib.IMAP4) -> int:
        """Open the folder (read-only unless letters are to be marked seen); its UIDVALIDITY."""
        typ, data = conn.select(imap_utf7(self.options.folder), readonly=not self.options.mark_seen)
        if typ != "OK":
            raise SourceInaccessibleError(
                f"папка {self.options.folder!r} недоступна: {_text(data)}"
            )
        _name, values = conn.response("UIDVALIDITY")
        if not values or values[0] is None:
            raise TemporaryError("IMAP-сервер не сообщил UIDVALIDITY папки")
        return int(values[0])

    def _search(self, conn: imaplib.IMAP4, last_uid: int) -> list[int]:
        typ, data = conn.uid("SEARCH", "UID", f"{last_uid + 1}:*")
        if typ != "OK":
            raise TemporaryError(f"IMAP UID SEARCH: {_text(data)}")
        return new_uids(data, last_uid=last_uid)

    def _read(
        self, conn: imaplib.IMAP4, *, uid: int, uidvalidity: int, now: datetime
    ) -> RawMessage | None:
        """One letter as a RawMessage; None (logged) if it vanished or cannot be read."""
        section = "BODY[]" if self.options.mark_seen else "BODY.PEEK[]"
        typ, data = conn.uid("FETCH", str(uid), f"(UID {section}<0.{self.options.max_bytes}>)")
        raw = body_of(data, uid) if typ == "OK" else None
        if raw is None:
            log.warning("IMAP %s: письмо UID %s не получено: %s", self.options.source, uid, typ)
            return None
        try:
            return parse_message(
                raw,
                source=self.options.source,
                secret=self.secret,
                now=now,
                extra={"uid": uid, "uidvalidity": uidvalidity},
            )
        except Exception:  # parsing is total by design; this guards the mailbox, not a bug
            log.exception("IMAP %s: письмо UID %s не разобрано", self.options.source, uid)
            return None


def _text(data: Sequence[Any]) -> str:
    return " ".join(d.decode(errors="replace") for d in data if isinstance(d, bytes))[:300]


def _close(conn: imaplib.IMAP4, *, polite: bool = True) -> None:
    """LOGOUT if the server still listens; the socket is closed either way."""
    if polite:
        try:
            conn.logout()  # closes the socket itself once the server has answered
            return
        except (OSError, imaplib.IMAP4.error):
            pass
    with suppress(OSError):
        conn.shutdown()
