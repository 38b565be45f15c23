"""The IMAP collector through imaplib against a local IMAP server, into SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import importlib.util
import quopri
import shutil
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.pipeline import store_batch
from collectors import repository as collectors_repo
from collectors.errors import (
    CollectorError,
    SourceAuthError,
    SourceInaccessibleError,
    TemporaryError,
)
from collectors.mail import ImapCollector, ImapOptions, body_of, imap_utf7
from collectors.mail_parse import CUT_MARK, TEXT_LIMIT
from core.models import Message, Source
from core.types import RawMessage


def _load_helper(name: str) -> Any:
    # --import-mode=importlib puts no test folder on sys.path: load the sibling by its path.
    key = f"mcu_test_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, Path(__file__).with_name(f"{name}.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


imap_server = _load_helper("imap_server")
NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
SOURCE, SECRET = "mail-test", "test-secret"
COMPLAINT = "Во дворе дома 5 по улице Ленина третий день не вывозят мусор."


def mail(headers: Sequence[str | bytes], body: str | bytes, *, mid: str | None = None) -> bytes:
    """A letter from header lines and a body written with \\n line ends."""
    lines = [h.encode() if isinstance(h, str) else h for h in headers]
    if mid:
        lines.append(f"Message-ID: <{mid}@mail.example.ru>".encode())
    payload = body.encode() if isinstance(body, str) else body
    return b"\r\n".join(lines) + b"\r\n\r\n" + payload.replace(b"\n", b"\r\n")


def plain(n: int, *, mid: bool = True) -> bytes:
    """A simple UTF-8 complaint number `n`."""
    return mail(
        [f"From: Житель {n} <resident{n}@example.ru>", f"Subject: Обращение {n}"],
        f"Текст {n}",
        mid=f"n{n}" if mid else None,
    )


def b_word(text: str, charset: str) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


PHOTO = "".join(f"%{b:02X}" for b in "фото ямы.jpg".encode())
CASES = {
    "koi8-r": mail(
        [f"Subject: {b_word('Мусор', 'koi8-r')}", "Content-Type: text/plain; charset=koi8-r"],
        COMPLAINT.encode("koi8-r"),
    ),
    "cp1251-base64": mail(
        [
            "Subject: =?windows-1251?Q?=CC=F3=F1=EE=F0?=",
            "Content-Type: text/plain; charset=windows-1251",
            "Content-Transfer-Encoding: base64",
        ],
        base64.encodebytes(COMPLAINT.encode("cp1251")),
    ),
    "utf8-qp": mail(
        [
            "Subject: =?utf-8?Q?=D0=9C=D1=83=D1=81=D0=BE=D1=80?=",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
        ],
        quopri.encodestring(COMPLAINT.encode()),
    ),
    "html-script": mail(
        ["Subject: Мусор", "Content-Type: text/html; charset=utf-8"],
        f"<p>{COMPLAINT}</p><script>alert('спам')</script>",
    ),
    "alternative": mail(
        ["Subject: Мусор", 'Content-Type: multipart/alternative; boundary="a"'],
        f"--a\nContent-Type: text/plain; charset=utf-8\n\n{COMPLAINT}\n"
        "--a\nContent-Type: text/html; charset=utf-8\n\n<b>HTML-версия</b>\n--a--\n",
    ),
    "attachment": mail(
        ["Subject: Мусор", 'Content-Type: multipart/mixed; boundary="m"'],
        f"--m\nContent-Type: text/plain; charset=utf-8\n\n{COMPLAINT}\n"
        "--m\nContent-Type: image/jpeg\nContent-Transfer-Encoding: base64\n"
        f"Content-Disposition: attachment; filename*=utf-8''{PHOTO}\n\n/9j/4AAQSkZJRg==\n--m--\n",
    ),
    "undeclared-cp1251": mail(
        [b"Subject: " + "Мусор".encode("cp1251"), "Content-Type: text/plain"],
        COMPLAINT.encode("cp1251"),
    ),
}


@pytest.fixture
def imap() -> Iterator[Any]:
    """A running fake IMAP server on 127.0.0.1 (FakeImapServer)."""
    server = imap_server.serve()
    yield server
    server.stop()


def collector(server: Any, **overrides: Any) -> ImapCollector:
    """A plain-text collector for the fake server's account."""
    fields: dict[str, Any] = {"security": "none", "timeout": 10, **overrides}
    options = ImapOptions(
        source=SOURCE, host="127.0.0.1", port=server.port, user=server.user, **fields
    )
    return ImapCollector(options=options, password=server.password, secret=SECRET)


def store(session: Session, server: Any, **overrides: Any) -> tuple[int, int, int]:
    """One committed pass: (fetched, stored, duplicates)."""
    result = store_batch(
        session, collector=collector(server, **overrides), source_name=SOURCE, now=NOW
    )
    session.commit()
    return result.fetched, result.stored, result.duplicates


def stored_ids(session: Session) -> list[str]:
    return sorted(session.scalars(select(Message.external_id)))


def cursor(session: Session) -> dict[str, Any]:
    source = collectors_repo.get_source(session, name=SOURCE)
    assert source is not None
    return dict(source.cursor)


@pytest.mark.parametrize("case", sorted(CASES))
def test_letters_in_every_encoding_arrive_as_text(imap: Any, case: str) -> None:
    imap.inbox.add(CASES[case])
    (message,) = collector(imap).fetch(cursor={}, now=NOW).messages
    assert message.text == f"Мусор\n{COMPLAINT}"
    assert message.attachments == (("фото ямы.jpg",) if case == "attachment" else ())


def test_letters_stay_unread_unless_configured(imap: Any) -> None:
    imap.inbox.add(plain(1))
    collector(imap).fetch(cursor={}, now=NOW)
    assert imap.inbox.letters[0].flags == set()
    assert all("BODY.PEEK[]" in command for command in imap.fetches())
    collector(imap, mark_seen=True).fetch(cursor={}, now=NOW)
    assert imap.inbox.letters[0].flags == {r"\Seen"}


def test_second_pass_stores_nothing_new(db_session: Session, imap: Any) -> None:
    for n in (1, 2, 3):
        imap.inbox.add(plain(n))
    assert store(db_session, imap) == (3, 3, 0)
    assert store(db_session, imap) == (0, 0, 0)  # `UID SEARCH UID 4:*` still returned 3
    assert cursor(db_session) == {"uidvalidity": 1001, "last_uid": 3}
    row = db_session.scalars(select(Message).where(Message.external_id == "<n2@mail.example.ru>"))
    message = row.one()
    assert message.text == "Обращение 2\nТекст 2"
    assert message.author_name == "Житель 2" and message.contact == "resident2@example.ru"
    assert message.author_id and "resident" not in message.author_id
    assert message.created_at == NOW


def test_uidvalidity_change_rereads_without_duplicates(db_session: Session, imap: Any) -> None:
    for letter in (plain(1), plain(2), plain(3, mid=False)):
        imap.inbox.add(letter)
    assert store(db_session, imap) == (3, 3, 0)
    imap.inbox.renumber(uidvalidity=2002)
    imap.inbox.add(plain(4))
    assert store(db_session, imap) == (4, 1, 3)
    assert len(stored_ids(db_session)) == 4
    assert cursor(db_session) == {"uidvalidity": 2002, "last_uid": 4}


def test_batch_limit_moves_the_cursor_past_returned_letters_only(imap: Any) -> None:
    for n in range(1, 6):
        imap.inbox.add(plain(n))
    state: dict[str, Any] = {}
    seen: list[list[int]] = []
    for _ in range(4):
        batch = collector(imap, batch_size=2).fetch(cursor=state, now=NOW)
        seen.append([m.extra["uid"] for m in batch.messages])
        state = dict(batch.cursor)
    assert seen == [[1, 2], [3, 4], [5], []]
    assert state == {"uidvalidity": 1001, "last_uid": 5}


def test_crash_while_storing_then_restart_has_no_gaps_or_duplicates(
    db_session: Session, imap: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in (1, 2):
        imap.inbox.add(plain(n))
    store(db_session, imap)
    for n in (3, 4, 5, 6):
        imap.inbox.add(plain(n, mid=n != 5))
    real_store = collectors_repo.store_messages

    def crash(
        session: Session, *, source: Source, messages: Sequence[RawMessage], now: datetime
    ) -> tuple[int, int]:
        real_store(session, source=source, messages=messages[:2], now=now)
        raise RuntimeError("disk full")

    monkeypatch.setattr(collectors_repo, "store_messages", crash)
    with pytest.raises(RuntimeError):
        store(db_session, imap, batch_size=3)
    assert db_session.scalar(select(func.count()).select_from(Message)) == 4  # before rollback
    db_session.rollback()
    monkeypatch.undo()
    assert store(db_session, imap, batch_size=3) == (3, 3, 0)
    assert store(db_session, imap, batch_size=3) == (1, 1, 0)
    assert db_session.scalar(select(func.count()).select_from(Message)) == 6
    assert cursor(db_session) == {"uidvalidity": 1001, "last_uid": 6}


def test_a_huge_letter_is_stored_capped(db_session: Session, imap: Any) -> None:
    imap.inbox.add(mail(["Subject: Большое"], "я" * 5_000_000, mid="big"))
    assert store(db_session, imap) == (1, 1, 0)
    text = db_session.scalars(select(Message.text)).one()
    assert len(text) == TEXT_LIMIT and text.endswith(CUT_MARK)


def test_wrong_password_is_an_auth_error(imap: Any) -> None:
    options = collector(imap).options
    wrong = ImapCollector(options=options, password="guess", secret=SECRET)
    with pytest.raises(SourceAuthError, match="AUTHENTICATIONFAILED"):
        wrong.fetch(cursor={}, now=NOW)
    assert imap.logins == 0


def test_unreachable_or_broken_server_is_temporary(imap: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with pytest.raises(TemporaryError):
        ImapCollector(
            options=ImapOptions(
                source=SOURCE, host="127.0.0.1", port=closed_port, user="u", security="none"
            ),
            password="p",
            secret=SECRET,
        ).fetch(cursor={}, now=NOW)
    for n in (1, 2, 3):
        imap.inbox.add(plain(n))
    imap.drop_on_fetch = 2
    with pytest.raises(TemporaryError):
        collector(imap).fetch(cursor={}, now=NOW)


def test_folders_are_found_by_their_cyrillic_names(imap: Any) -> None:
    imap.folders["Обращения & жалобы"] = imap_server.Folder(uidvalidity=7)
    imap.folders["Обращения & жалобы"].add(plain(1))
    batch = collector(imap, folder="Обращения & жалобы").fetch(cursor={}, now=NOW)
    assert [m.external_id for m in batch.messages] == ["<n1@mail.example.ru>"]
    assert imap_utf7("Входящие") == '"&BBIERQQ+BDQETwRJBDgENQ-"'
    with pytest.raises(SourceInaccessibleError):
        collector(imap, folder="Архив").fetch(cursor={}, now=NOW)


def test_fetch_answers_are_matched_by_uid() -> None:
    literal = (b"1 (UID 7 BODY[] {3}", b"abc")
    assert body_of([b"2 (FLAGS ())", literal, b")"], 7) == b"abc"
    assert body_of([(b"1 (BODY[] {3}", b"abc"), b" UID 7)"], 7) == b"abc"  # UID after literal
    assert body_of([(b"1 (UID 8 BODY[] {3}", b"abc"), b")"], 7) is None
    assert body_of([None], 7) is None


OPENSSL_REQ = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt"]
OPENSSL_REQ += ["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"]
OPENSSL_REQ += ["-addext", "subjectAltName=IP:127.0.0.1"]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cert, key), made with the openssl tool."""
    if shutil.which("openssl") is None:
        pytest.skip("нет программы openssl: TLS к IMAP не проверить")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [*OPENSSL_REQ, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_tls_modes_verify_the_server_certificate(certificate: tuple[Path, Path], mode: str) -> None:
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(*certificate)
    server = imap_server.serve(tls=server_ctx, implicit_tls=mode == "ssl")
    try:
        server.inbox.add(plain(1))
        trusting = collector(server, security=mode, ca_file=str(certificate[0]))
        assert len(trusting.fetch(cursor={}, now=NOW).messages) == 1
        with pytest.raises(CollectorError, match="certificate verify failed"):
            collector(server, security=mode).fetch(cursor={}, now=NOW)
        assert server.logins == 1  # the untrusted attempt never sent the password
    finally:
        server.stop()


def test_collector_from_a_source_row(imap: Any) -> None:
    settings = {"host": "127.0.0.1", "port": imap.port, "user": imap.user, "ssl": "none"}
    source = Source(name=SOURCE, kind="email", settings=settings, secret=imap.password)
    imap.inbox.add(plain(1))
    built = ImapCollector.from_source(source, secret=SECRET)
    assert (built.options.folder, built.options.batch_size, built.options.mark_seen) == (
        "INBOX",
        200,
        False,
    )
    assert len(built.fetch(cursor={}, now=NOW).messages) == 1
    with pytest.raises(SourceAuthError):
        ImapCollector.from_source(Source(name="x", kind="email", settings=settings), secret="s")
    for wrong in ({"ssl": "tls1"}, {"port": "IMAPS"}, {"host": ""}):
        bad = Source(name="y", kind="email", settings={**settings, **wrong}, secret="p")
        with pytest.raises(CollectorError, match=r"почтового|ssl"):
            ImapCollector.from_source(bad, secret="s")
