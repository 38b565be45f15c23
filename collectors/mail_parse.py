"""RFC 5322 e-mail messages as RawMessage: headers, bodies, charsets, attachments; pure, no I/O."""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.utils import parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

from collectors.base import pseudonymize
from core.types import RawMessage

__all__ = [
    "TEXT_LIMIT",
    "Decoded",
    "body_text",
    "cap_text",
    "decode_bytes",
    "decode_header_value",
    "html_to_text",
    "message_ids",
    "parse_date",
    "parse_message",
    "reply_text",
]

TEXT_LIMIT = 100_000
CUT_MARK = " […текст сокращён]"
# Markup beyond this is not parsed: the text it yields is capped at TEXT_LIMIT anyway.
HTML_LIMIT = 2_000_000
ID_LIMIT = 200  # messages.external_id / reply_to / thread_id are VARCHAR(200)
CONTACT_LIMIT = 300
MAX_ATTACHMENTS = 50
FALLBACK_CHARSETS = ("utf-8", "cp1251", "koi8-r")
SINGLE_BYTE_CYRILLIC = ("cp1251", "koi8-r")
# The commonest Russian letters: right decodings score ~0.85+, cp1251/KOI8-R swaps ~0.6-0.75.
FREQUENT_LETTERS = frozenset("оеаинтсрвлкмдпуяы")
MIN_LETTERS = 8
SCORE_SAMPLE = 20_000  # enough to tell the charsets apart; a 5 MB body is not walked twice
SWITCH_MARGIN = 0.15
_SINGLE_BYTE_PREFIXES = ("cp12", "cp8", "iso8859", "koi8", "latin", "mac-", "ascii")
_UNFOLD = re.compile(r"\r?\n(?=[ \t])")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_MSG_ID = re.compile(r"<([^<>\s]+)>")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
REFERENCES_KEPT = 20  # the newest ids of References; a reply names its parent among the last
# Where the quoted history of a reply begins (plain-text conventions of common mailers).
_QUOTE_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(original message|исходное сообщение|пересылаемое сообщение|forwarded message)"
    r"\s*-{2,}|_{5,}|-- ?)\s*$",
    re.IGNORECASE,
)
_ATTRIBUTION = re.compile(r"(wrote|написал[аи]?|пишет)\s*:\s*$", re.IGNORECASE)
_HEADER_BLOCK = re.compile(r"^\s*(from|от|кому|to|sent|отправлено|date|дата)\s*:", re.IGNORECASE)
_HEADER_SUBJECT = re.compile(r"^\s*(subject|тема)\s*:", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Decoded:
    """Text and the charset it was actually decoded with ("+replace": bytes were lost)."""

    text: str
    charset: str


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        info = codecs.lookup(name.strip().strip('"'))
    except (LookupError, ValueError):
        return None
    return info.name if getattr(info, "_is_text_encoding", True) else None


def _strict(data: bytes, charset: str) -> str | None:
    try:
        return data.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return None


def _russian_score(text: str) -> float:
    """How much `text` looks like Russian; 0 when it has too few Cyrillic letters to judge."""
    lower = text[:SCORE_SAMPLE].lower()
    letters = [c for c in lower if "а" <= c <= "я" or c == "ё"]
    latin = sum(1 for c in lower if "a" <= c <= "z")
    if len(letters) < MIN_LETTERS or len(letters) < latin:
        return 0.0
    return sum(c in FREQUENT_LETTERS for c in letters) / len(letters)


def _likeliest(data: bytes) -> tuple[str, str]:
    """The single-byte Cyrillic decoding that reads most like Russian (cp1251 on a tie)."""
    texts = {c: t for c in SINGLE_BYTE_CYRILLIC if (t := _strict(data, c)) is not None}
    if not texts:
        return "utf-8+replace", data.decode("utf-8", errors="replace")
    return max(texts.items(), key=lambda item: _russian_score(item[1]))


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with a few broken bytes (a cut or damaged message) rather than mojibake."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = len(text) - len(text.encode("ascii", "ignore")) - bad
    return text if good >= 3 and bad * 10 <= good else None


def decode_bytes(data: bytes, declared: str | None = None) -> Decoded:
    """Bytes as text: the declared charset, then UTF-8, cp1251, KOI8-R; never raises."""
    charset = _codec(declared)
    text = _strict(data, charset) if charset else None
    if charset and text is not None:
        if not charset.startswith(_SINGLE_BYTE_PREFIXES) or data.isascii():
            return Decoded(text, charset)
        utf8 = _strict(data, "utf-8")
        if utf8 is not None:  # real cp1251/KOI8-R text is practically never valid UTF-8
            return Decoded(utf8, "utf-8")
        # Old mailers label cp1251 as KOI8-R or Latin-1: switch only on clear evidence.
        best, best_text = _likeliest(data)
        if _russian_score(best_text) >= _russian_score(text) + SWITCH_MARGIN:
            return Decoded(best_text, best)
        return Decoded(text, charset)
    if data.isascii():
        return Decoded(data.decode("ascii"), "ascii")
    utf8 = _strict(data, "utf-8")
    if utf8 is not None:
        return Decoded(utf8, "utf-8")
    damaged = _mostly_utf8(data)
    if damaged is not None:
        return Decoded(damaged, "utf-8+replace")
    best, best_text = _likeliest(data)
    return Decoded(best_text, best)


def _word_bytes(encoding: str, payload: str) -> bytes | None:
    raw = payload.encode("ascii", "surrogateescape")
    try:
        if encoding in "bB":
            return base64.b64decode(raw + b"=" * (-len(raw) % 4))
        return binascii.a2b_qp(raw, header=True)
    except (binascii.Error, ValueError):
        return None


def _decode_gap(gap: str, used: list[str]) -> str:
    # Raw 8-bit header bytes arrive as surrogates (surrogateescape); RFC 6532 allows UTF-8.
    raw = gap.encode("utf-8", "surrogateescape")
    if raw.isascii():
        return gap
    decoded = decode_bytes(raw)
    used.append(decoded.charset)
    return decoded.text


def decode_header_value(value: str) -> Decoded:
    """A header value with RFC 2047 encoded words or raw 8-bit bytes as one line of text."""
    value = _UNFOLD.sub("", value)
    out: list[str] = []
    used: list[str] = []
    pending: tuple[str, bytes] | None = None
    pos = 0
    for match in _ENCODED_WORD.finditer(value):
        gap = value[pos : match.start()]
        data = _word_bytes(match.group(2), match.group(3))
        if data is None:  # a broken word stays as it was written
            continue
        if gap and not (pending and gap.isspace()):  # RFC 2047: space between words drops
            out.append(_flush(pending, used) + _decode_gap(gap, used))
            pending = None
        charset = match.group(1).split("*")[0].lower()  # RFC 2231 adds *language
        if pending and pending[0] == charset:  # a character may be split between words
            pending = (charset, pending[1] + data)
        else:
            out.append(_flush(pending, used))
            pending = (charset, data)
        pos = match.end()
    out.append(_flush(pending, used) + _decode_gap(value[pos:], used))
    # One line without control characters: PostgreSQL refuses NUL, headers have no breaks.
    text = " ".join(_CONTROL.sub(" ", "".join(out)).split())
    return Decoded(text, ",".join(dict.fromkeys(used)) or "ascii")


def _flush(pending: tuple[str, bytes] | None, used: list[str]) -> str:
    if pending is None:
        return ""
    decoded = decode_bytes(pending[1], pending[0])
    used.append(decoded.charset)
    return decoded.text


class _HtmlText(HTMLParser):
    """Visible text of an HTML body with its line structure."""

    SKIP = frozenset({"script", "style", "head", "template", "noscript"})
    BREAK = frozenset(
        {"address", "article", "blockquote", "br", "dd", "div", "dl", "dt", "footer", "form"}
        | {"h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre"}
        | {"section", "table", "td", "th", "tr", "ul"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.at_break = True

    def _break(self, *, hard: bool = False) -> None:
        # Nested blocks (</li></ul></div>) make one line break; each <br> makes its own.
        if hard or not self.at_break:
            self.parts.append("\n")
            self.at_break = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BREAK:
            self._break(hard=tag == "br")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BREAK and tag != "br":
            self._break()

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))  # source newlines are not breaks
            self.at_break = self.at_break and not data.strip()


def html_to_text(markup: str) -> str:
    """HTML as plain text: scripts and styles dropped, block elements as line breaks."""
    parser = _HtmlText()
    parser.feed(markup[:HTML_LIMIT])
    parser.close()
    return _tidy("".join(parser.parts))


def _tidy(text: str) -> str:
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _header(msg: Message, name: str) -> str | None:
    """The first raw value of a header (surrogates for 8-bit bytes), folding kept."""
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            return str(value)
    return None


@dataclass
class _Body:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    charsets: list[str] = field(default_factory=list)


def _filename(part: Message) -> str | None:
    """The attachment name: RFC 2231 (charset'lang'%XX), RFC 2047 words or raw 8-bit."""
    param: Any = part.get_param("filename", header="content-disposition")
    if param is None:
        param = part.get_param("name")
    if param is None:
        return None
    if isinstance(param, tuple):  # RFC 2231: (charset, language, latin-1 text of the bytes)
        charset, _lang, raw = param
        text = decode_bytes(bytes(str(raw), "raw-unicode-escape"), charset or None).text
    else:
        text = decode_header_value(str(param)).text
    return " ".join(_CONTROL.sub(" ", text).split())[:ID_LIMIT] or None


def _part_text(part: Message, body: _Body) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    decoded = decode_bytes(data, part.get_content_charset())
    body.charsets.append(decoded.charset)
    return decoded.text.replace("\x00", "")


def _collect(msg: Message) -> _Body:
    body = _Body()
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":  # a forwarded letter: named, and its text read below
            body.attachments.append(_filename(part) or ctype)
        if part.is_multipart():
            continue
        name = _filename(part)
        if name or part.get_content_disposition() == "attachment":
            body.attachments.append(name or ctype)
        elif ctype == "text/plain":
            body.plain.append(_tidy(_part_text(part, body)))
        elif ctype == "text/html":
            body.html.append(html_to_text(_part_text(part, body)))
        elif part.get_content_maintype() != "text":
            body.attachments.append(ctype)
    return body


def body_text(msg: Message) -> tuple[str, tuple[str, ...], str]:
    """Body text (text/plain preferred to HTML), attachment names and the body charsets."""
    body = _collect(msg)
    plain = [text for text in body.plain if text]
    text = "\n\n".join(plain or [t for t in body.html if t])
    charsets = ",".join(dict.fromkeys(body.charsets)) or "ascii"
    return text, tuple(body.attachments[:MAX_ATTACHMENTS]), charsets


def cap_text(text: str, limit: int = TEXT_LIMIT) -> str:
    """`text` cut to `limit` characters with a visible mark when it was longer."""
    return text if len(text) <= limit else text[: limit - len(CUT_MARK)] + CUT_MARK


def parse_date(value: str | None, *, now: datetime) -> datetime:
    """The Date header as aware UTC; missing, invalid or future dates become `now`."""
    if not value:
        return now
    try:
        parsed = parsedate_to_datetime(_UNFOLD.sub("", value).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return now
    if parsed.tzinfo is None:  # "-0000": the sender did not know its zone; RFC 5322 says UTC
        parsed = parsed.replace(tzinfo=UTC)
    return min(parsed.astimezone(UTC), now)  # a sender's fast clock must not skew deadlines


def message_ids(value: str | None) -> list[str]:
    """Message ids of a Message-ID / In-Reply-To / References header, each as `<id>`."""
    if not value:
        return []
    value = decode_header_value(value).text  # raw 8-bit bytes must not reach the database
    found = [f"<{m}>" for m in _MSG_ID.findall(value)]
    if not found and value.strip():
        found = [value.split()[0]]
    return [_fit_id(mid) for mid in found]


def _fit_id(mid: str) -> str:
    if len(mid) <= ID_LIMIT:
        return mid
    return "sha256:" + hashlib.sha256(mid.encode("utf-8", "surrogatepass")).hexdigest()


def _quoted_header_block(lines: list[str], i: int) -> bool:
    """An Outlook-style «From: … / Subject: …» block of the quoted letter starts at line i."""
    if not _HEADER_BLOCK.match(lines[i]):
        return False
    return any(_HEADER_SUBJECT.match(line) for line in lines[i + 1 : i + 5])


def reply_text(body: str) -> str:
    """The new part of a reply: the lines before the quoted history and the signature.

    Cut at the first «> » line (and the «… wrote:» / «… <addr>:» attribution just above it),
    an «-----Original Message-----» style separator, a «-- » signature delimiter, an
    attribution line, or a quoted «From:/Subject:» header block.
    """
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if line.lstrip().startswith(">"):
            while kept and not kept[-1].strip():
                kept.pop()
            if kept and kept[-1].rstrip().endswith(":"):
                kept.pop()  # «пн, 23 нояб. 2026 г. в 10:00, МЦУ <mcu@example.ru>:»
            break
        if _QUOTE_SEPARATOR.match(line) or _ATTRIBUTION.search(line):
            break
        if _quoted_header_block(lines, i):
            break
        kept.append(line)
    return "\n".join(kept).strip()


def _address(value: str | None) -> tuple[str | None, str | None]:
    """(display name, lower-case address) of the first mailbox in an address header."""
    if not value:
        return None, None
    name, addr = parseaddr(_UNFOLD.sub("", value))
    addr = decode_header_value(addr).text.strip().lower()
    display = decode_header_value(name).text.strip() if name else ""
    return display or None, addr if "@" in addr else None


def parse_message(
    raw: bytes, *, source: str, secret: str, now: datetime, extra: Mapping[str, Any] | None = None
) -> RawMessage:
    """One RFC 5322 message as a RawMessage (subject on the first line, then the body)."""
    msg = email.message_from_bytes(raw)
    subject = decode_header_value(_header(msg, "Subject") or "")
    text, attachments, body_charset = body_text(msg)
    name, addr = _address(_header(msg, "From"))
    _reply_name, reply_addr = _address(_header(msg, "Reply-To"))
    # Only a digest of the address is an author id; the address itself is kept as the
    # contact because the official answer goes back to the citizen by e-mail.
    contact = reply_addr or addr
    own_ids = message_ids(_header(msg, "Message-ID"))
    # Without a Message-ID the content digest still names the letter across UIDVALIDITY resets.
    external_id = own_ids[0] if own_ids else "sha256:" + hashlib.sha256(raw).hexdigest()
    parents = message_ids(_header(msg, "In-Reply-To"))
    references = message_ids(_header(msg, "References"))
    thread = references[:1] or parents[:1]
    return RawMessage(
        source=source,
        external_id=external_id,
        text=cap_text("\n".join(part for part in (subject.text, text) if part)),
        created_at=parse_date(_header(msg, "Date"), now=now),
        author_id=pseudonymize(kind="email", account_id=addr, secret=secret) if addr else None,
        author_name=name,
        reply_to=parents[0] if parents else None,
        thread_id=thread[0] if thread else None,
        attachments=attachments,
        contact=contact if contact and len(contact) <= CONTACT_LIMIT else None,
        extra={
            **(extra or {}),
            "charsets": {"subject": subject.charset, "body": body_charset},
            # Kept apart so the official answer can reply «Re: <subject>».
            "subject": subject.text[:500],
            # A reply to our answer names its Message-ID here (app/feedback_replies.py).
            **({"references": references[-REFERENCES_KEPT:]} if references else {}),
        },
    )
