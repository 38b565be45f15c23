"""Rendered GET pages kept until the data under them changes (PostgreSQL only).

The queue, the lists and the incidents API cost 8–15 ms of CPU per request to query
and render; fifty people refreshing them mostly ask for an answer that has not changed.
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

Writes anywhere in the PostgreSQL cluster count as changes: that costs hits, never
correctness. SQLite has no such version; there, and when the version query fails, every
request goes to its handler as if the cache were not here.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("mcu.web.cache")

# Pages that read only the database (and the clock) and that many people reload: the queue,
# lists, the dashboard and the incidents API. Incident cards are not among them: each is
# read by few people between two writes, so storing them cost more (the version query on
# every request) than it saved (bench/web.py at saturation: 250 → 140 req/s). Public pages
# (rate limited), downloads, the rating (its GET may store a draft week) and the admin
# pages always go to their handlers.
CACHEABLE_PATHS = re.compile(r"^(?:/|/triage|/triage/list|/incidents|/api/v1/incidents)$")
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


class SnapshotVersion:
    """The cluster's current snapshot as text, read on a pooled connection of the engine.

    Autocommit: one round trip, no BEGIN and no ROLLBACK around it. Run in the thread pool
    like every other query of the web layer, so a slow database never blocks the event loop.
    `current()` gives None when the database cannot be asked (the request is then served
    by its handler, which reports the failure as it always does).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _read(self) -> str | None:
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            return conn.exec_driver_sql(SNAPSHOT_SQL).scalar_one_or_none()

    async def current(self) -> str | None:
        """The snapshot text, or None if the database did not answer."""
        try:
            return await run_in_threadpool(self._read)
        except SQLAlchemyError as exc:
            log.warning("версия данных для кэша страниц недоступна: %s", exc)
            return None


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
    request); `max_bytes` bounds the bodies kept, `seconds` how long one is kept.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        version: Callable[[], Any],
        seconds: float,
        max_bytes: int,
        timer: Callable[[], float] | None = None,
    ) -> None:
        self.app = app
        self.version = version
        extra = {"timer": timer} if timer is not None else {}
        self.store: TTLCache[Any, Stored] = TTLCache(
            maxsize=max_bytes, ttl=seconds, getsizeof=_size, **extra
        )
        self.max_body = max_bytes // 16

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
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
