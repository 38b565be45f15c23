"""The server's protocol sends a response's head with its first body chunk, in one write,
and every kind of answer still arrives whole: plain, streamed, bodiless, HEAD, after a
100 Continue, and with the connection closed after it."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from app.server import HeadWithBody, NoDelayHttpProtocol

RELEASE = threading.Event()  # lets the streamed answer send its second chunk
WRITES: list[bytes] = []  # what the response cycles wrote to the socket, write by write


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A few answers, as plain ASGI."""
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/echo":  # reads the body: a client asking «Expect: 100-continue» waits
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        await asyncio.to_thread(RELEASE.wait, 10)
        await send({"type": "http.response.body", "body": b"second"})
    elif path == "/none":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
    else:
        headers = [(b"content-length", b"5"), (b"x-kind", b"plain")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"hello"})


class CountingProtocol(NoDelayHttpProtocol):
    """Records what reaches the socket through the cycle's transport."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        joined = self.cycle.transport
        assert isinstance(joined, HeadWithBody)
        real = joined._transport

        class Spy:
            def write(self, data: bytes) -> None:
                WRITES.append(bytes(data))
                real.write(data)

            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

        joined._transport = Spy()


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app, host="127.0.0.1", port=free, http=CountingProtocol, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield free
    server.should_exit = True
    thread.join(10)


def _read_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _ask(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        return _read_all(sock)


def test_a_plain_answer_goes_out_in_one_write(port: int) -> None:
    WRITES.clear()
    answer = _ask(port, b"GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\nhello")
    assert b"x-kind: plain" in answer
    assert len(WRITES) == 1 and WRITES[0] == answer


def test_keep_alive_answers_follow_each_other_whole(port: int) -> None:
    WRITES.clear()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for _ in range(3):
            sock.sendall(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b"hello"):
                answer += sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.count(b"hello") == 1
    assert len(WRITES) == 3


def test_a_streamed_answer_shows_its_head_and_first_chunk_before_the_rest(port: int) -> None:
    RELEASE.clear()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        early = b""
        while b"first" not in early:
            early += sock.recv(65536)
        assert early.startswith(b"HTTP/1.1 200 OK\r\n") and b"second" not in early
        RELEASE.set()
        rest = _read_all(sock)
    assert early.endswith(b"5\r\nfirst\r\n") and rest.endswith(b"6\r\nsecond\r\n0\r\n\r\n")


def test_bodiless_and_head_answers_arrive(port: int) -> None:
    none = _ask(port, b"GET /none HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert none.startswith(b"HTTP/1.1 204 No Content\r\n") and none.endswith(b"\r\n\r\n")
    head = _ask(port, b"HEAD /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and head.endswith(b"\r\n\r\n")
    assert b"content-length: 5" in head and b"hello" not in head
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:  # kept alive
        sock.sendall(b"HEAD /plain HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b"\r\n\r\n"):
            answer += sock.recv(65536)
        sock.sendall(b"GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        after = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and b"hello" not in answer
    assert after.startswith(b"HTTP/1.1 200 OK\r\n") and after.endswith(b"hello")


def test_a_client_expecting_100_continue_gets_it_before_sending_the_body(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
            b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        interim = sock.recv(65536)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n")
        sock.sendall(b"ping")
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n") and answer.endswith(b"\r\n\r\nping")
