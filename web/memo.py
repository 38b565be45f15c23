"""A short-lived memo of expensive aggregates, shared by the requests of one process.

Totals over the whole archive (incidents by block and status since the start, all stored
messages) cost a scan of a million rows and change by a handful a minute; the dashboard
shows them from this memo for `MCU_WEB_CACHE_SECONDS` (0 turns it off). What operators act
on — open incidents, deadlines, the queue — is always read fresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from cachetools import TTLCache
from starlette.concurrency import run_in_threadpool

T = TypeVar("T")


class Memo:
    """Values by key for `seconds`; thread-safe (sync handlers run in a thread pool)."""

    def __init__(self, seconds: float, *, maxsize: int = 512) -> None:
        self._cache: TTLCache[Hashable, Any] | None = (
            TTLCache(maxsize=maxsize, ttl=seconds) if seconds > 0 else None
        )
        self._lock = threading.Lock()
        self._pending: dict[Hashable, threading.Event] = {}
        self._awaited: dict[Hashable, asyncio.Future[None]] = {}

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The remembered value of `key`, or `compute()` remembered now.

        Two requests that miss together both compute: cheaper than making one wait on a lock
        held across a database query.
        """
        if self._cache is None:
            return compute()
        with self._lock:
            if key in self._cache:
                value: T = self._cache[key]
                return value
        value = compute()
        with self._lock:
            self._cache[key] = value
        return value

    def shared(self, key: Hashable, compute: Callable[[], T], *, wait: float = 5.0) -> T:
        """Like `get`, but requests that miss together compute once: the first computes, the
        others wait for its value (at most `wait` seconds, then compute themselves).

        For values every request of a data version asks for at once (web.pages.common.shared):
        after a write, all the clients of a busy queue miss in the same instant, and eight
        renderings of one page cost eight times the CPU of one.
        """
        if self._cache is None:
            return compute()
        with self._lock:
            if key in self._cache:
                found: T = self._cache[key]
                return found
            pending = self._pending.get(key)
            owner = pending is None
            if pending is None:
                pending = self._pending[key] = threading.Event()
        if not owner:
            pending.wait(wait)
            with self._lock:
                if key in self._cache:
                    done: T = self._cache[key]
                    return done
            return compute()  # the first one failed or is too slow: do not wait longer
        try:
            value = compute()
            with self._lock:
                self._cache[key] = value
            return value
        finally:
            with self._lock:
                self._pending.pop(key, None)
            pending.set()

    async def shared_async(
        self, key: Hashable, compute: Callable[[], T], *, wait: float = 5.0
    ) -> T:
        """`shared` for handlers on the event loop: a hit costs no trip to the thread pool;
        on a miss the first request runs `compute` there and the others await its value (at
        most `wait` seconds, then compute themselves, as when the first one fails)."""
        if self._cache is None:
            return await run_in_threadpool(compute)
        loop = asyncio.get_running_loop()
        with self._lock:
            if key in self._cache:
                found: T = self._cache[key]
                return found
            pending = self._awaited.get(key)
            owner = pending is None or pending.get_loop() is not loop  # tests run several
            if owner:
                pending = self._awaited[key] = loop.create_future()
        assert pending is not None
        if not owner:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(pending), wait)
            with self._lock:
                if key in self._cache:
                    done: T = self._cache[key]
                    return done
            return await run_in_threadpool(compute)
        try:
            value = await run_in_threadpool(compute)
            with self._lock:
                self._cache[key] = value
            return value
        finally:
            with self._lock:
                if self._awaited.get(key) is pending:
                    del self._awaited[key]
            if not pending.done():
                pending.set_result(None)

    def clear(self) -> None:
        """Forget everything (after a change made in this process)."""
        if self._cache is not None:
            with self._lock:
                self._cache.clear()
