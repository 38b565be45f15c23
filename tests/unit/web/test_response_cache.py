"""ResponseCache as plain ASGI: what is stored, under which key, for how long, and what passes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import create_engine
from starlette.types import Message, Receive, Scope, Send

from web.response_cache import (
    CACHE_HEADER,
    CACHEABLE_PATHS,
    VERSION_STATE,
    ResponseCache,
    SnapshotVersion,
    data_version,
)

Headers = Sequence[tuple[bytes, bytes]]
HTML = (b"content-type", b"text/html; charset=utf-8")
SESSION = {"uid": 1, "csrf": "token-1"}
MAX_BYTES = 16 * 1024  # bodies of at most 1 KiB are stored


@dataclass
class FakePage:
    """An inner app that counts renders; its body says which render it was."""

    status: int = 200
    headers: Headers = (HTML,)
    chunks: Callable[[int], list[bytes]] = lambda n: [f"render {n}".encode()]
    touch_session: Callable[[dict[str, Any]], None] | None = None
    calls: int = 0
    scopes: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, scope: Any, _receive: Any, send: Any) -> None:
        self.calls += 1
        self.scopes.append(scope)
        if scope["type"] != "http":
            return
        if self.touch_session is not None:
            self.touch_session(scope["session"])
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        chunks = self.chunks(self.calls)
        for i, chunk in enumerate(chunks):
            await send(
                {"type": "http.response.body", "body": chunk, "more_body": i < len(chunks) - 1}
            )


@dataclass
class Versions:
    """The data version the middleware asks for; counts the questions."""

    value: str | None = "100:100:"
    asked: int = 0

    async def __call__(self) -> str | None:
        self.asked += 1
        return self.value


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Reply:
    status: int
    headers: list[tuple[bytes, bytes]]
    bodies: list[bytes]

    @property
    def body(self) -> bytes:
        return b"".join(self.bodies)

    @property
    def cache(self) -> list[bytes]:
        """Every x-mcu-cache value (none for requests the cache does not handle)."""
        return [v for n, v in self.headers if n == CACHE_HEADER]

    @property
    def own_headers(self) -> list[tuple[bytes, bytes]]:
        return [(n, v) for n, v in self.headers if n != CACHE_HEADER]


@dataclass
class Cached:
    """A ResponseCache over a FakePage, with its version source and clock."""

    page: FakePage = field(default_factory=FakePage)
    versions: Versions = field(default_factory=Versions)
    clock: Clock = field(default_factory=Clock)
    max_bytes: int = MAX_BYTES
    seconds: float = 30

    def __post_init__(self) -> None:
        self.cache = ResponseCache(
            self.page,
            version=self.versions,
            seconds=self.seconds,
            max_bytes=self.max_bytes,
            timer=self.clock,
        )

    def get(
        self,
        path: str = "/triage",
        *,
        method: str = "GET",
        query: bytes = b"",
        headers: Headers = (),
        session: dict[str, Any] | None = None,
    ) -> Reply:
        """One request; the session is decoded afresh as SessionMiddleware would."""
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "query_string": query,
            "headers": list(headers),
            "session": dict(SESSION if session is None else session),
        }
        sent: list[MutableMapping[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message)

        asyncio.run(self.cache(scope, receive, send))
        start, *bodies = sent
        assert start["type"] == "http.response.start"
        assert not bodies[-1].get("more_body", False)
        return Reply(start["status"], list(start["headers"]), [m["body"] for m in bodies])


def test_a_repeated_get_is_served_from_the_store() -> None:
    cached = Cached(page=FakePage(headers=(HTML, (b"x-extra", b"1"))))
    first = cached.get()
    second = cached.get()
    assert cached.page.calls == 1
    assert (first.cache, second.cache) == ([b"miss"], [b"hit"])
    assert second.status == first.status == 200
    assert second.body == first.body == b"render 1"
    assert second.own_headers == first.own_headers == [HTML, (b"x-extra", b"1")]


def test_a_new_data_version_renders_again() -> None:
    cached = Cached()
    cached.get()
    cached.versions.value = "100:102:101"
    again = cached.get()
    assert (again.cache, again.body, cached.page.calls) == ([b"miss"], b"render 2", 2)
    assert cached.get().body == b"render 2"  # the new version's page is stored in turn
    assert cached.page.calls == 2


def test_the_version_is_asked_once_per_cacheable_request_and_shown_to_the_handler() -> None:
    cached = Cached()
    cached.get()
    cached.get()
    assert cached.versions.asked == 2
    (scope,) = cached.page.scopes
    assert scope["state"][VERSION_STATE] == "100:100:"
    assert data_version(scope) == "100:100:"
    assert data_version({"type": "http"}) is None


def test_a_stored_page_expires_after_the_set_seconds() -> None:
    cached = Cached(seconds=30)
    cached.get()
    cached.clock.now += 29.5
    assert cached.get().cache == [b"hit"]
    cached.clock.now += 1
    expired = cached.get()
    assert (expired.cache, expired.body, cached.page.calls) == ([b"miss"], b"render 2", 2)


def _add_notice(session: dict[str, Any]) -> None:
    session["notice"] = "Сохранено"


def _new_csrf(session: dict[str, Any]) -> None:
    session["csrf"] = f"token-{len(session)}-new"


def _log_out(session: dict[str, Any]) -> None:
    session.clear()


# Answers that must not be shared: FakePage arguments for each.
NOT_STORED: dict[str, dict[str, Any]] = {
    "404": {"status": 404},
    "redirect": {"status": 303, "headers": ((b"location", b"/login?next=/triage"),)},
    "500": {"status": 500},
    "set-cookie": {"headers": (HTML, (b"set-cookie", b"flash=1; Path=/"))},
    "notice-added": {"touch_session": _add_notice},
    "csrf-changed": {"touch_session": _new_csrf},
    "session-cleared": {"touch_session": _log_out},
    "body-too-large": {"chunks": lambda n: [bytes(MAX_BYTES // 16 + 1)]},
    "chunks-too-large": {"chunks": lambda n: [bytes(400), bytes(400), bytes(400)]},
}


@pytest.mark.parametrize("kwargs", NOT_STORED.values(), ids=NOT_STORED.keys())
def test_answers_that_must_not_be_shared_are_not_stored(kwargs: dict[str, Any]) -> None:
    page = FakePage(**kwargs)
    cached = Cached(page=page)
    first, second = cached.get(), cached.get()
    assert page.calls == 2
    assert first.cache == second.cache == [b"miss"]
    assert second.status == page.status
    # Each answer is the handler's own, passed on unchanged.
    assert (first.body, second.body) == (b"".join(page.chunks(1)), b"".join(page.chunks(2)))


def test_a_body_of_exactly_the_limit_is_stored() -> None:
    cached = Cached(page=FakePage(chunks=lambda n: [bytes([n]) * (MAX_BYTES // 16)]))
    cached.get()
    hit = cached.get()
    assert (hit.cache, hit.body, cached.page.calls) == ([b"hit"], bytes([1]) * 1024, 1)


def test_a_streamed_body_is_passed_on_in_chunks_and_stored_whole() -> None:
    page = FakePage(chunks=lambda n: [b"<html>", f"part {n}".encode(), b"</html>", b""])
    cached = Cached(page=page)
    miss = cached.get()
    assert miss.bodies == [b"<html>", b"part 1", b"</html>", b""]
    hit = cached.get()
    assert (hit.cache, hit.bodies, page.calls) == ([b"hit"], [b"<html>part 1</html>"], 1)


def test_a_handler_failing_mid_stream_leaves_nothing_stored() -> None:
    class Broken(FakePage):
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            self.calls += 1
            await send({"type": "http.response.start", "status": 200, "headers": [HTML]})
            await send({"type": "http.response.body", "body": b"<html>", "more_body": True})
            if self.calls == 1:
                raise RuntimeError("database went away")
            await send({"type": "http.response.body", "body": b"whole", "more_body": False})

    cached = Cached(page=Broken())
    with pytest.raises(RuntimeError):
        cached.get()
    after = cached.get()
    assert (after.cache, after.body, cached.page.calls) == ([b"miss"], b"<html>whole", 2)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/triage"),
        ("HEAD", "/triage"),
        ("POST", "/incidents/5"),
        ("GET", "/rating"),
        ("GET", "/report"),
        ("GET", "/triage/noise"),
        ("GET", "/incidents/5/answers"),
        ("GET", "/login"),
        ("GET", "/admin/users"),
        ("GET", "/static/app.js"),
    ],
)
def test_other_requests_pass_through_without_asking_the_version(method: str, path: str) -> None:
    cached = Cached()
    first, second = cached.get(path, method=method), cached.get(path, method=method)
    assert cached.page.calls == 2 and cached.versions.asked == 0
    assert first.cache == second.cache == []
    assert (first.body, second.body) == (b"render 1", b"render 2")
    assert len(cached.cache.store) == 0


def test_without_a_data_version_every_request_goes_to_the_handler() -> None:
    cached = Cached(versions=Versions(value=None))
    first, second = cached.get(), cached.get()
    assert cached.page.calls == 2
    assert first.cache == second.cache == []
    assert VERSION_STATE not in cached.page.scopes[0].get("state", {})


def test_lifespan_events_reach_the_app() -> None:
    cached = Cached()

    async def nothing() -> dict[str, Any]:
        return {"type": "lifespan.startup"}

    async def ignore(_message: Any) -> None:
        return None

    asyncio.run(cached.cache({"type": "lifespan"}, nothing, ignore))
    assert cached.page.calls == 1 and cached.versions.asked == 0


# Pairs of requests that must never share a stored answer.
SEPARATE: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "user": ({"session": {"uid": 1}}, {"session": {"uid": 2}}),
    "csrf": ({"session": {"uid": 1, "csrf": "a"}}, {"session": {"uid": 1, "csrf": "b"}}),
    "notice": ({"session": {"uid": 1}}, {"session": {"uid": 1, "notice": "Готово"}}),
    "anonymous": ({"session": {}}, {"session": {"uid": 1}}),
    "query": ({"query": b"status=open"}, {"query": b"status=closed"}),
    "page": ({"query": b""}, {"query": b"page=2"}),
    "authorization": (
        {"headers": [(b"authorization", b"Bearer a")]},
        {"headers": [(b"authorization", b"Bearer b")]},
    ),
    "partial": ({"headers": []}, {"headers": [(b"x-partial", b"1")]}),
    "accept": (
        {"headers": [(b"accept", b"text/html")]},
        {"headers": [(b"accept", b"application/json")]},
    ),
    "language": (
        {"headers": [(b"accept-language", b"ru")]},
        {"headers": [(b"accept-language", b"en")]},
    ),
    "path": ({"path": "/incidents"}, {"path": "/triage"}),
}


@pytest.mark.parametrize(("one", "other"), SEPARATE.values(), ids=SEPARATE.keys())
def test_requests_that_differ_get_separate_entries(
    one: dict[str, Any], other: dict[str, Any]
) -> None:
    cached = Cached()
    assert cached.get(**one).body == b"render 1"
    assert cached.get(**other).body == b"render 2"
    assert cached.get(**one).body == b"render 1"
    assert cached.get(**other).body == b"render 2"
    assert cached.page.calls == 2 and len(cached.cache.store) == 2


SAME: dict[str, tuple[Headers, Headers]] = {
    "cookie": ([(b"cookie", b"mcu_session=aaa")], [(b"cookie", b"mcu_session=bbb")]),
    "referer": ([(b"referer", b"http://x/triage")], [(b"referer", b"http://x/incidents")]),
    "sec-fetch": (
        [(b"sec-fetch-mode", b"navigate"), (b"sec-fetch-dest", b"document")],
        [(b"sec-fetch-mode", b"cors"), (b"sec-fetch-dest", b"empty")],
    ),
    "sec-ch": ([(b"sec-ch-ua", b'"Chromium";v="130"')], []),
    "encoding-and-caching": (
        [(b"accept-encoding", b"gzip"), (b"cache-control", b"no-cache"), (b"pragma", b"x")],
        [(b"accept-encoding", b"br"), (b"connection", b"keep-alive")],
    ),
    "order": (
        [(b"accept", b"text/html"), (b"x-partial", b"1")],
        [(b"x-partial", b"1"), (b"accept", b"text/html")],
    ),
}


@pytest.mark.parametrize(("one", "other"), SAME.values(), ids=SAME.keys())
def test_headers_that_never_change_a_page_do_not_split_entries(
    one: Headers, other: Headers
) -> None:
    cached = Cached()
    cached.get(headers=one)
    again = cached.get(headers=other)
    assert (again.cache, again.body, cached.page.calls) == ([b"hit"], b"render 1", 1)


def test_the_session_key_ignores_the_order_of_its_fields() -> None:
    cached = Cached()
    cached.get(session={"uid": 1, "csrf": "a"})
    assert cached.get(session={"csrf": "a", "uid": 1}).cache == [b"hit"]


def test_the_store_keeps_within_its_byte_bound() -> None:
    cached = Cached(page=FakePage(chunks=lambda n: [bytes(1000)]))
    for n in range(40):
        cached.get(query=f"page={n}".encode())
    assert cached.cache.store.currsize <= MAX_BYTES
    assert 0 < len(cached.cache.store) < 40
    assert cached.get(query=b"page=39").cache == [b"hit"]  # the newest are kept
    assert cached.get(query=b"page=0").cache == [b"miss"]


CACHEABLE = [
    "/",
    "/triage",
    "/triage/list",
    "/incidents",
    "/api/v1/incidents",
    "/incidents/5",  # a card: its request reads the user and the forms once per version
    "/api/v1/incidents/7",
]
NOT_CACHEABLE = [
    "",
    "//",
    "/incidents/5/x",
    "/incidents/5/answers",
    "/incidents/",
    "/incidents/abc",
    "/incidents/-5",
    "/triage/listx",
    "/triagex",
    "/triage/",
    "/triage/noise",
    "/triage/5/assign",
    "/api/v1/incidents/",
    "/incidents/5x",
    "/api/v1/incidents/7x",
    "/api/v1/incidentsx",
    "/api/v1/incidents/7/messages",
    "/api/v1/status",
    "/rating",
    "/report",
    "/login",
    "/x/triage",
]


@pytest.mark.parametrize("path", CACHEABLE)
def test_cacheable_paths_are_the_pages_that_read_only_data(path: str) -> None:
    assert CACHEABLE_PATHS.match(path)


@pytest.mark.parametrize("path", NOT_CACHEABLE)
def test_other_paths_are_not_cacheable(path: str) -> None:
    assert not CACHEABLE_PATHS.match(path)


def test_a_store_too_small_for_a_page_passes_it_on_unstored() -> None:
    """MCU_WEB_PAGE_CACHE_MB set absurdly low: the page still reaches the client whole."""
    page = b"ok"

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": page})

    async def version() -> str:
        return "v1"

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    cache = ResponseCache(app, version=version, seconds=30, max_bytes=104)
    scope = {"type": "http", "method": "GET", "path": "/triage", "query_string": b"",
             "headers": [], "session": {"uid": 1}}  # fmt: skip
    asyncio.run(cache(scope, receive, send))
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[1]["body"] == page and len(cache.store) == 0


def test_an_unreachable_database_gives_no_version_and_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """No version: the request then goes to its handler, which reports the failure itself."""
    engine = create_engine(
        "postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2}
    )
    try:
        with caplog.at_level(logging.WARNING, logger="mcu.web.cache"):
            assert asyncio.run(SnapshotVersion(engine).current()) is None
    finally:
        engine.dispose()
    assert any("кэша страниц недоступна" in r.getMessage() for r in caplog.records)
