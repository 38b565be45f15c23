"""At most N requests of a process run at once; the rest wait in line on the event loop."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

# Far below the 40 threads of the thread pool and the 30 connections of the engine's pool:
# a request never waits for a connection while holding a thread (nor the reverse), and
# under load requests queue in FIFO order on the event loop instead of 40 threads fighting
# over the GIL, so the tail latency stays close to the median (bench/web.py, 50 clients:
# /incidents/{id} p99 ~700 → ~450 ms, 3-10 all alike). Raise it when PostgreSQL is on
# another host and requests spend longer waiting on the network.
MAX_IN_FLIGHT = 8
UNLIMITED_PREFIXES = ("/healthz", "/static/")


class InFlightLimit:
    """A FIFO semaphore around HTTP requests (health checks and static files skip it)."""

    def __init__(self, app: ASGIApp, *, limit: int | None = None) -> None:
        self.app = app
        self.limit = limit or MAX_IN_FLIGHT
        self._semaphore = asyncio.Semaphore(self.limit)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNLIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a semaphore belongs to one loop (tests start several)
            self._semaphore, self._loop = asyncio.Semaphore(self.limit), loop
        async with self._semaphore:
            await self.app(scope, receive, send)
