"""The IMAP collector against a real Dovecot on a loopback port (skipped when not installed).

The fake server in imap_server.py runs everywhere; this checks the same client code against
the server municipalities actually run. Install with `apt-get install dovecot-imapd`.
"""

from __future__ import annotations

import base64
import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from collectors.errors import SourceAuthError
from collectors.mail import ImapCollector, ImapOptions

NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
USER, PASSWORD = "mcu@example.ru", 'p"a ss'
BINARY = shutil.which("dovecot") or next(
    (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if Path(p).exists()), None
)
CONFIG = """
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_failure_delay = 0
first_valid_uid = 0
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
mail_location = maildir:{root}/mail
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/home
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@dataclass
class Dovecot:
    root: Path
    port: int
    mail_owner: tuple[int, int]
    delivered: int = 0

    @property
    def maildir(self) -> Path:
        return self.root / "mail"

    def deliver(self, raw: bytes) -> None:
        """Put a letter into Maildir/new as a delivery agent would."""
        self.delivered += 1
        path = self.maildir / "new" / f"{self.delivered:04d}.mcu-test"
        path.write_bytes(raw)
        os.chown(path, *self.mail_owner)

    def seen_flags(self) -> list[bool]:
        """For each letter Dovecot has moved to cur/, whether it carries the S (seen) flag."""
        return ["S" in p.name.rpartition(":2,")[2] for p in (self.maildir / "cur").iterdir()]

    def collector(self, password: str = PASSWORD, **overrides: Any) -> ImapCollector:
        fields: dict[str, Any] = {"security": "none", "timeout": 10.0, **overrides}
        options = ImapOptions(
            source="mail-dovecot", host="127.0.0.1", port=self.port, user=USER, **fields
        )
        return ImapCollector(options=options, password=password, secret="test-secret")


def _accounts() -> dict[str, object]:
    """Root must hand Dovecot its own users; anyone else runs it all as themselves."""
    if os.geteuid() == 0:
        mail = pwd.getpwnam("dovecot")
        return {"internal": "dovecot", "login": "dovenull", "uid": mail.pw_uid, "gid": mail.pw_gid}
    me = pwd.getpwuid(os.geteuid())
    return {"internal": me.pw_name, "login": me.pw_name, "uid": me.pw_uid, "gid": me.pw_gid}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ready(port: int, process: subprocess.Popen[bytes]) -> bool:
    for _ in range(200):  # readiness polling only; nothing here asserts a duration
        if process.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """A Dovecot serving one Maildir account on a free loopback port."""
    if BINARY is None:
        pytest.skip("нет dovecot (apt-get install dovecot-imapd): проверка на Dovecot пропущена")
    try:
        accounts = _accounts()
    except KeyError:
        pytest.skip("нет системных пользователей dovecot/dovenull для запуска от root")
    root = Path(tempfile.mkdtemp(prefix="mcu-dovecot-"))
    root.chmod(0o755)  # Dovecot's own users must reach the mail folders
    owner = (int(str(accounts["uid"])), int(str(accounts["gid"])))
    for sub in ("mail/new", "mail/cur", "mail/tmp", "home"):
        (root / sub).mkdir(parents=True)
        os.chown(root / sub, *owner)
    os.chown(root / "mail", *owner)
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    port = _free_port()
    group = grp.getgrgid(pwd.getpwnam(str(accounts["internal"])).pw_gid).gr_name
    (root / "dovecot.conf").write_text(
        CONFIG.format(
            root=root,
            port=port,
            internal=accounts["internal"],
            internal_group=group,
            login=accounts["login"],
            mail_uid=owner[0],
            mail_gid=owner[1],
        )
    )
    cmd = [BINARY, "-F", "-c", str(root / "dovecot.conf")]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not _ready(port, process):
            log = (root / "dovecot.log").read_text(errors="replace")[-500:]
            pytest.skip(f"Dovecot не запустился: {log}")
        yield Dovecot(root=root, port=port, mail_owner=owner)
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


def _letter(n: int, subject: str, body: bytes, ctype: str, cte: str = "8bit") -> bytes:
    head = f"Message-ID: <dc{n}@mail.example.ru>\r\nFrom: Житель <r{n}@example.ru>\r\n"
    head += f"Subject: {subject}\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: {cte}\r\n"
    return head.encode() + b"\r\n" + body


TEXT = "Прорвало трубу во дворе дома 7, вода заливает подвал."


def test_dovecot_letters_are_read_once_and_left_unread(dovecot: Dovecot) -> None:
    dovecot.deliver(_letter(1, "=?koi8-r?Q?=F4=D2=D5=C2=C1?=", TEXT.encode("koi8-r"), "text/plain"))
    cp1251 = base64.encodebytes(TEXT.encode("cp1251")).replace(b"\n", b"\r\n")
    dovecot.deliver(_letter(2, "Труба", cp1251, "text/plain; charset=windows-1251", "base64"))
    first = dovecot.collector().fetch(cursor={}, now=NOW)
    assert sorted(m.external_id for m in first.messages) == [
        "<dc1@mail.example.ru>",
        "<dc2@mail.example.ru>",
    ]
    assert {m.text for m in first.messages} == {f"Труба\n{TEXT}"}
    assert dovecot.collector().fetch(cursor=dict(first.cursor), now=NOW).messages == []
    dovecot.deliver(_letter(3, "Ещё", b"Opyat", "text/plain"))
    third = dovecot.collector(batch_size=5).fetch(cursor=dict(first.cursor), now=NOW)
    assert [m.external_id for m in third.messages] == ["<dc3@mail.example.ru>"]
    assert third.cursor["last_uid"] == first.cursor["last_uid"] + 1
    assert not any(dovecot.seen_flags())


def test_dovecot_marks_letters_seen_only_when_asked(dovecot: Dovecot) -> None:
    dovecot.deliver(_letter(1, "Труба", TEXT.encode(), "text/plain; charset=utf-8"))
    assert len(dovecot.collector(mark_seen=True).fetch(cursor={}, now=NOW).messages) == 1
    assert dovecot.seen_flags() == [True]


def test_dovecot_refuses_a_wrong_password(dovecot: Dovecot) -> None:
    with pytest.raises(SourceAuthError):
        dovecot.collector(password="guess").fetch(cursor={}, now=NOW)
