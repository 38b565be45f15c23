"""Rendered GET pages kept until the data under them changes (PostgreSQL only).

The queue, the lists and the incidents API cost 8–15 ms of CPU per request to query
and render; fifty people refreshing them mostly ask for an answer that has not changed.
The data version also lets the requests of one version share what they read from the
database alone (web.pages.common.shared: the queue list, API answers; web.deps: the
signed-in user), so even a page that misses the store (an incident card) costs less.
PostgreSQL tells exactly when it may have: the text of `pg_current_snapshot()` (xmin, xmax
and the transactions in progress) changes whenever a transaction that wrote ends, and two
reads under equal snapshots see the same committed rows. So a response is
stored under

- the snapshot taken BEFORE the handler runs: the handler's own reads see that state or a
  newer one, so a stored page is never older than the version it is stored under, and any
  commit since makes every later request miss;
- the session as the signed cookie carries it (user, CSRF token, notices), the path, the
  query and the request headers other than the cookie and a few that never change a page;

and kept at most `MCU_WEB_CACHE_SECONDS` (deadlines say «осталось 3 ч 10 мин»: they move
with the clock, not with the data). Only a 200 answer whose handler left the session as it
was and set no cookie is stored. A user who is deactivated, logs out or changes role writes
to the database (or drops the session), so no page is ever served past such a change.

The version is read on a connection of its own, one query for all the requests that
ask together, and always taken after the request arrived (SnapshotVersion). Writes
anywhere in the PostgreSQL cluster count as changes: that costs hits, never correctness.
SQLite has no such version; there, and when the version query fails, every request goes
to its handler as if the cache were not here.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from cachetools import TTLCache
from sqlalchemy import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("mcu.web.cache")

# Pages that read only the database (and the clock) and that many people reload: the queue,
# lists, the dashboard, the incidents API, and incident cards (a card is read by few people
# between two writes, so it is seldom served from the store; but keyed by a data version,
# its request reads the user and the forms' lists once per version instead of on every
# request, and the version costs a share of one batched query, see SnapshotVersion). Public
# pages (rate limited), downloads, the rating (its GET may store a draft week) and the admin
# pages always go to their handlers.
CACHEABLE_PATHS = re.compile(
    r"^(?:/|/triage|/triage/list|/incidents|/api/v1/incidents)$|^(?:/api/v1)?/incidents/\d+$"
)
# Request headers that never change what a page says; every other header is part of the key.
IGNORED_HEADERS = frozenset(
    {
        b"cookie",  # replaced by the session it carries
        b"connection",
        b"keep-alive",
        b"cache-control",
        b"pragma",
        b"referer",
        b"accept-encoding",
        b"priority",
        b"dnt",
        b"upgrade-insecure-requests",
    }
)
_IGNORED_PREFIXES = (b"sec-fetch-", b"sec-ch-")
SNAPSHOT_SQL = "SELECT pg_current_snapshot()::text"
# Where a cacheable request finds the data version its handler reads at (scope["state"]).
VERSION_STATE = "data_version"
# Says whether a cacheable page came from the store (for operators' curiosity and the bench).
CACHE_HEADER = b"x-mcu-cache"


@dataclass(frozen=True, slots=True)
class Stored:
    """A response as the handler sent it: status, headers and the whole body."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes


def _size(stored: Stored) -> int:
    return len(stored.body) + 64 * (len(stored.headers) + 4)


@dataclass(slots=True)
class _Slot:
    """Where a SnapshotVersion keeps its connection (apart, so a finalizer can close it)."""

    conn: psycopg.AsyncConnection[Any] | None = None


class SnapshotVersion:
    """The cluster's current snapshot as text, read on a connection of its own.

    Every cacheable request asks, so the question must cost next to nothing. It is asked on
    the event loop over one autocommit psycopg connection of the process (no thread pool,
    no pool checkout with its ping, no BEGIN and ROLLBACK), and the requests that ask
    together share one query, as a group commit does: a request joins the batch the NEXT
    query will answer, and that query is sent only after every member joined, so the
    snapshot a request gets is always taken after the request arrived (as fresh as a query
    of its own; at most two round trips of waiting). Fifty concurrent requests cost a few
    queries instead of fifty, and the engine's pool keeps its connections for the handlers.

    `current()` gives None when the database cannot be asked (the request is then served
    by its handler, which reports the failure as it always does); the next batch connects
    again. `aclose()` closes the connection (the application's shutdown).
    """

    def __init__(self, engine: Engine, *, timeout: float = 5.0) -> None:
        self.engine = engine
        self.timeout = timeout
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        self._connect_args: tuple[Any, dict[str, Any]] = (
            args,
            {"connect_timeout": max(1, int(timeout)), **kwargs, "autocommit": True},
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slot = _Slot()
        self._waiting: asyncio.Future[str | None] | None = None  # the next query's batch
        self._pump: asyncio.Task[None] | None = None
        self.queries = 0  # how many were sent (for tests and the curious)
        # A connection still open when this object goes (a test's app never shut down).
        weakref.finalize(self, _close_now, self._slot)

    async def current(self) -> str | None:
        """The snapshot text taken after this call began, or None if the database did not
        answer."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a connection belongs to one loop (tests start several)
            _close_now(self._slot)
            self._loop, self._waiting, self._pump = loop, None, None
        if self._waiting is None:
            self._waiting = loop.create_future()
        batch = self._waiting
        if self._pump is None or self._pump.done():
            self._pump = loop.create_task(self._serve_batches())
        # shield: a request cancelled while waiting must not cancel its batch-mates' answer.
        return await asyncio.shield(batch)

    async def _serve_batches(self) -> None:
        while self._waiting is not None:
            batch, self._waiting = self._waiting, None
            version: str | None = None
            try:
                version = await self._read()
            finally:  # even when cancelled: nobody may wait for an answer that never comes
                if not batch.done():
                    batch.set_result(version)

    async def _read(self) -> str | None:
        try:
            if self._slot.conn is None or self._slot.conn.closed:
                args, kwargs = self._connect_args
                connect = psycopg.AsyncConnection.connect(*args, **kwargs)
                self._slot.conn = await asyncio.wait_for(connect, self.timeout)
            self.queries += 1
            cursor = await asyncio.wait_for(self._slot.conn.execute(SNAPSHOT_SQL), self.timeout)
            row = await cursor.fetchone()
            return str(row[0]) if row else None
        except (psycopg.Error, OSError, TimeoutError) as exc:
            log.warning("версия данных для кэша страниц недоступна: %s", exc)
            _close_now(self._slot)  # whatever state it is in, the next batch connects afresh
            return None

    async def aclose(self) -> None:
        """Close the connection (a later `current()` opens a new one)."""
        _close_now(self._slot)


def _close_now(slot: _Slot) -> None:
    """Close the slot's connection without awaiting: `AsyncConnection.close()` awaits
    nothing for a connection outside a pool, and the connection of a loop that has ended
    cannot be awaited on any more."""
    conn, slot.conn = slot.conn, None
    if conn is None or conn.closed:
        return
    closing = conn.close()
    try:
        closing.send(None)
    except StopIteration:
        return
    closing.close()  # pragma: no cover - only if psycopg ever awaits in close()
    conn.pgconn.finish()  # pragma: no cover


def data_version(scope: Scope) -> str | None:
    """The data version a cacheable request was keyed by (None for other requests).

    What a handler computes from the database alone may be shared by the requests of one
    version, as their pages are."""
    version = scope.get("state", {}).get(VERSION_STATE)
    return version if isinstance(version, str) else None


def _key_headers(scope: Scope) -> tuple[tuple[bytes, bytes], ...]:
    return tuple(
        sorted(
            (name, value)
            for name, value in scope["headers"]
            if name not in IGNORED_HEADERS and not name.startswith(_IGNORED_PREFIXES)
        )
    )


def _session_text(scope: Scope) -> str:
    return json.dumps(scope.get("session") or {}, sort_keys=True, default=str)


class ResponseCache:
    """ASGI middleware (inside SessionMiddleware) serving stored GET pages of CACHEABLE_PATHS.

    `version` is an async callable giving the data version (None: do not cache this
    request); `max_bytes` bounds the bodies kept, `seconds` how long one is kept; `close`
    (async) is awaited when the application shuts down (the version's connection).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        version: Callable[[], Any],
        seconds: float,
        max_bytes: int,
        timer: Callable[[], float] | None = None,
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.app = app
        self.version = version
        self.close = close
        extra = {"timer": timer} if timer is not None else {}
        self.store: TTLCache[Any, Stored] = TTLCache(
            maxsize=max_bytes, ttl=seconds, getsizeof=_size, **extra
        )
        self.max_body = max_bytes // 16

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" and self.close is not None:
            await self.app(scope, receive, self._closing_after(send))
            return
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not CACHEABLE_PATHS.match(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        version = await self.version()
        if version is None:
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})[VERSION_STATE] = version
        session = _session_text(scope)
        key = (version, session, scope["path"], scope["query_string"], _key_headers(scope))
        stored = self.store.get(key)
        if stored is not None:
            await _replay(stored, send)
            return
        await self._render(scope, receive, send, key=key, session=session)

    def _closing_after(self, send: Send) -> Send:
        """`send` of the lifespan, closing what the cache holds once the app has shut down."""

        async def lifespan_send(message: Message) -> None:
            if message["type"].startswith("lifespan.shutdown") and self.close is not None:
                await self.close()
            await send(message)

        return lifespan_send

    async def _render(
        self, scope: Scope, receive: Receive, send: Send, *, key: Any, session: str
    ) -> None:
        """Run the handler, passing its answer on while keeping a copy if it may be stored."""
        start: Message | None = None
        chunks: list[bytes] = []
        size = 0
        keep = True

        async def capture(message: Message) -> None:
            nonlocal start, size, keep
            if message["type"] == "http.response.start":
                start = message
                headers = list(message.get("headers", []))
                keep = message["status"] == 200 and all(n != b"set-cookie" for n, _ in headers)
                message = {**message, "headers": [*headers, (CACHE_HEADER, b"miss")]}
            elif message["type"] == "http.response.body" and keep:
                body = message.get("body", b"")
                size += len(body)
                keep = size <= self.max_body
                chunks.append(body)
                last = not message.get("more_body", False)
                # Only at the last chunk is the session final: a handler that changed it (a
                # new CSRF token, a notice taken) is not stored.
                if last and keep and start is not None and _session_text(scope) == session:
                    sent = tuple((bytes(n), bytes(v)) for n, v in start.get("headers", []))
                    stored = Stored(start["status"], sent, b"".join(chunks))
                    if _size(stored) <= self.store.maxsize:  # a tiny store cannot hold it
                        self.store[key] = stored
            await send(message)

        await self.app(scope, receive, capture)


async def _replay(stored: Stored, send: Send) -> None:
    headers = [*stored.headers, (CACHE_HEADER, b"hit")]
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body, "more_body": False})
