"""A short-lived memo of expensive aggregates, shared by the requests of one process.

Totals over the whole archive (incidents by block and status since the start, all stored
messages) cost a scan of a million rows and change by a handful a minute; the dashboard
shows them from this memo for `MCU_WEB_CACHE_SECONDS` (0 turns it off). What operators act
on — open incidents, deadlines, the queue — is always read fresh.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from cachetools import TTLCache

T = TypeVar("T")


class Memo:
    """Values by key for `seconds`; thread-safe (sync handlers run in a thread pool)."""

    def __init__(self, seconds: float, *, maxsize: int = 256) -> None:
        self._cache: TTLCache[Hashable, Any] | None = (
            TTLCache(maxsize=maxsize, ttl=seconds) if seconds > 0 else None
        )
        self._lock = threading.Lock()

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

    def clear(self) -> None:
        """Forget everything (after a change made in this process)."""
        if self._cache is not None:
            with self._lock:
                self._cache.clear()
