"""A small IMAP4rev1 server for tests: the real wire format, UIDs, literals, STARTTLS.

It speaks what the collector needs (CAPABILITY, NOOP, STARTTLS, LOGIN, SELECT/EXAMINE,
UID SEARCH, UID FETCH, LOGOUT) the way RFC 3501 servers do: SEARCH `n:*` returns the
newest message even when n is above it, bodies come as `{n}\\r\\n` literals, unrelated
FETCH flag updates are interleaved, and BODY[] (not BODY.PEEK[]) sets \\Seen.
"""

from __future__ import annotations

import base64
import re
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass, field
from typing import Any

LINE_LIMIT = 65_536
_FETCH = re.compile(r"^(\S+) \((.*)\)$")
_SECTION = re.compile(r"BODY(\.PEEK)?\[\](?:<(\d+)\.(\d+)>)?")
_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(\S+)')
_BEFORE_LOGIN = frozenset({"capability", "noop", "starttls", "login", "logout"})


@dataclass
class Letter:
    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)


@dataclass
class Folder:
    """One mailbox; a test adds letters and may renumber it under a new UIDVALIDITY."""

    uidvalidity: int = 1001
    letters: list[Letter] = field(default_factory=list)
    next_uid: int = 1

    def add(self, raw: bytes) -> int:
        """Deliver a letter; returns its UID."""
        self.letters.append(Letter(self.next_uid, raw))
        self.next_uid += 1
        return self.next_uid - 1

    def renumber(self, *, uidvalidity: int, first_uid: int = 1) -> None:
        """What a rebuilt index does: same letters, new UIDVALIDITY, UIDs from the start."""
        self.uidvalidity = uidvalidity
        for offset, letter in enumerate(self.letters):
            letter.uid = first_uid + offset
        self.next_uid = first_uid + len(self.letters)

    def expunge(self, uid: int) -> None:
        """Remove a letter (its UID is never reused)."""
        self.letters = [letter for letter in self.letters if letter.uid != uid]


def mutf7_decode(name: str) -> str:
    """IMAP modified UTF-7 (RFC 3501 5.1.3) to text; the server's own, not the client's."""

    def run(match: re.Match[str]) -> str:
        data = match.group(1)
        if not data:
            return "&"
        data = data.replace(",", "/")
        return base64.b64decode(data + "=" * (-len(data) % 4)).decode("utf-16-be")

    return re.sub(r"&([^-]*)-", run, name)


def sequence(spec: str, *, largest: int) -> set[int]:
    """The numbers of an IMAP sequence set; `*` is the largest in use (RFC 3501 9)."""
    out: set[int] = set()
    for part in spec.split(","):
        ends = [largest if end == "*" else int(end) for end in part.split(":")]
        low, high = min(ends), max(ends)  # `7:*` with 5 as largest means 5:7
        out.update(range(low, high + 1))
    return out


class FakeImapServer(socketserver.ThreadingTCPServer):
    """The server on 127.0.0.1 with one account; `folders` maps names to Folder."""

    allow_reuse_address = True
    daemon_threads = False  # server_close() joins every session thread

    def __init__(
        self,
        *,
        user: str = "mcu@example.ru",
        password: str = 'pa"ss\\word 1',  # LOGIN must quote and escape it
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Session)
        self.user, self.password = user, password
        self.tls, self.implicit_tls = tls, implicit_tls
        self.folders: dict[str, Folder] = {"INBOX": Folder()}
        self.lock = threading.Lock()
        self.commands: list[str] = []
        self.logins = 0
        self.drop_on_fetch: int | None = None  # break the connection at the n-th UID FETCH
        self._thread: threading.Thread | None = None

    @property
    def inbox(self) -> Folder:
        return self.folders["INBOX"]

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> FakeImapServer:
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-imap"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join()

    def fetches(self) -> list[str]:
        """The UID FETCH commands received, without tags."""
        return [c for c in self.commands if c.upper().startswith("UID FETCH")]


class _Session(socketserver.BaseRequestHandler):
    """One client connection; handlers are `cmd_<name>(tag, args) -> keep going?`."""

    server: FakeImapServer

    def setup(self) -> None:
        self.sock: socket.socket = self.request
        self.sock.settimeout(10)  # a client that hangs cannot keep server_close() waiting
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no delayed-ACK stalls
        self.rfile = self.sock.makefile("rb")
        self.tls_on = False
        self.user: str | None = None
        self.folder: Folder | None = None
        self.readonly = True

    def finish(self) -> None:
        self.rfile.close()
        if self.tls_on:
            self.sock.close()  # the original socket object was detached by wrap_socket

    def handle(self) -> None:
        try:
            if self.server.implicit_tls and not self._tls():
                return
            self.send(f"* OK [CAPABILITY {self._caps()}] fake IMAP ready")
            while self._one():
                pass
        except (OSError, UnicodeDecodeError):
            return  # the client went away, timed out or failed the TLS handshake

    def _one(self) -> bool:
        line = self.rfile.readline(LINE_LIMIT)
        if not line:
            return False
        text = line.decode("utf-8").rstrip("\r\n")
        tag, _, rest = text.partition(" ")
        name, _, args = rest.partition(" ")
        if name.upper() == "UID":
            sub, _, args = args.partition(" ")
            name = f"uid_{sub}"
        with self.server.lock:
            self.server.commands.append(rest)
        handler = getattr(self, f"cmd_{name.lower()}", None)
        if handler is None:
            self.send(f"{tag} BAD unknown command {name}")
            return True
        if self.user is None and name.lower() not in _BEFORE_LOGIN:
            self.send(f"{tag} BAD log in first")
            return True
        return bool(handler(tag, args))

    def send(self, line: str | bytes) -> None:
        data = line.encode("utf-8") if isinstance(line, str) else line
        self.sock.sendall(data + b"\r\n")

    def _caps(self) -> str:
        caps = "IMAP4rev1"
        if self.server.tls is not None and not self.tls_on:
            caps += " STARTTLS LOGINDISABLED"
        return caps

    def _tls(self) -> bool:
        assert self.server.tls is not None
        self.rfile.close()
        try:
            self.sock = self.server.tls.wrap_socket(self.sock, server_side=True)
        except OSError:
            return False
        self.tls_on = True
        self.rfile = self.sock.makefile("rb")
        return True

    # --- commands -----------------------------------------------------------------------

    def cmd_capability(self, tag: str, args: str) -> bool:
        self.send(f"* CAPABILITY {self._caps()}")
        self.send(f"{tag} OK CAPABILITY completed")
        return True

    def cmd_noop(self, tag: str, args: str) -> bool:
        self.send(f"{tag} OK NOOP completed")
        return True

    def cmd_starttls(self, tag: str, args: str) -> bool:
        if self.server.tls is None or self.tls_on:
            self.send(f"{tag} BAD STARTTLS not available")
            return True
        self.send(f"{tag} OK Begin TLS negotiation now")
        return self._tls()

    def cmd_login(self, tag: str, args: str) -> bool:
        words = [q if q is not None and atom == "" else atom for q, atom in _tokens(args)]
        if self.server.tls is not None and not self.tls_on:
            self.send(f"{tag} NO [PRIVACYREQUIRED] LOGIN needs TLS")
        elif words == [self.server.user, self.server.password]:
            self.user = words[0]
            with self.server.lock:
                self.server.logins += 1
            self.send(f"{tag} OK [CAPABILITY IMAP4rev1] Logged in")
        else:
            self.send(f"{tag} NO [AUTHENTICATIONFAILED] Authentication failed.")
        return True

    def cmd_select(self, tag: str, args: str, *, readonly: bool = False) -> bool:
        name = mutf7_decode(_tokens(args)[0][0] or _tokens(args)[0][1])
        folder = self.server.folders.get("INBOX" if name.upper() == "INBOX" else name)
        if folder is None:
            self.send(f"{tag} NO [NONEXISTENT] Mailbox doesn't exist: {name}")
            return True
        self.folder, self.readonly = folder, readonly
        self.send(r"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft)")
        self.send(f"* {len(folder.letters)} EXISTS")
        self.send("* 0 RECENT")
        self.send(f"* OK [UIDVALIDITY {folder.uidvalidity}] UIDs valid")
        self.send(f"* OK [UIDNEXT {folder.next_uid}] Predicted next UID")
        mode = "READ-ONLY" if readonly else "READ-WRITE"
        self.send(f"{tag} OK [{mode}] {'EXAMINE' if readonly else 'SELECT'} completed")
        return True

    def cmd_examine(self, tag: str, args: str) -> bool:
        return self.cmd_select(tag, args, readonly=True)

    def cmd_uid_search(self, tag: str, args: str) -> bool:
        if self.folder is None:
            self.send(f"{tag} BAD No mailbox selected")
            return True
        words = args.split()
        uids = [letter.uid for letter in self.folder.letters]
        if len(words) == 2 and words[0].upper() == "UID":
            wanted = sequence(words[1], largest=max(uids, default=0))
            uids = [uid for uid in uids if uid in wanted]
        elif words != ["ALL"]:
            self.send(f"{tag} BAD search criteria not supported: {args}")
            return True
        self.send(" ".join(["* SEARCH", *map(str, uids)]))
        self.send(f"{tag} OK SEARCH completed")
        return True

    def cmd_uid_fetch(self, tag: str, args: str) -> bool:
        match = _FETCH.match(args)
        section = _SECTION.search(args)
        if self.folder is None or match is None or section is None:
            self.send(f"{tag} BAD FETCH not supported: {args}")
            return True
        if self.server.drop_on_fetch is not None:
            self.server.drop_on_fetch -= 1
            if self.server.drop_on_fetch <= 0:
                return False  # the connection breaks mid-pass
        letters = self.folder.letters
        wanted = sequence(match.group(1), largest=max((m.uid for m in letters), default=0))
        if letters:  # another session changed a flag: servers report it unasked
            self.send(f"* {len(letters)} FETCH (FLAGS ())")
        for seq, letter in enumerate(letters, start=1):
            if letter.uid in wanted:
                self._send_body(seq, letter, section)
        self.send(f"{tag} OK FETCH completed")
        return True

    def _send_body(self, seq: int, letter: Letter, section: re.Match[str]) -> None:
        peek, start, length = section.group(1), section.group(2), section.group(3)
        data, label = letter.raw, "BODY[]"
        if start is not None:
            data = data[int(start) : int(start) + int(length)]
            label = f"BODY[]<{start}>"
        flags = ""
        if not peek and not self.readonly and r"\Seen" not in letter.flags:
            letter.flags.add(r"\Seen")
            flags = r" FLAGS (\Seen)"
        head = f"* {seq} FETCH (UID {letter.uid}{flags} {label} {{{len(data)}}}"
        self.send(head.encode() + b"\r\n" + data + b")")

    def cmd_logout(self, tag: str, args: str) -> bool:
        self.send("* BYE logging out")
        self.send(f"{tag} OK LOGOUT completed")
        return False


def _tokens(args: str) -> list[tuple[str | None, str]]:
    """IMAP strings and atoms: (unescaped quoted string or None, atom or "")."""
    out: list[tuple[str | None, str]] = []
    for quoted, atom in _TOKEN.findall(args):
        if atom:
            out.append((None, atom))
        else:
            out.append((re.sub(r"\\(.)", r"\1", quoted), ""))
    return out


def serve(**kwargs: Any) -> FakeImapServer:
    """A started server (stop() it when done)."""
    return FakeImapServer(**kwargs).start()
