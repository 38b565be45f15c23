"""InFlightLimit: at most N requests run at once, in arrival order; health checks skip it."""

from __future__ import annotations

import asyncio
from typing import Any

from web.limits import InFlightLimit


def _scope(path: str) -> dict[str, Any]:
    return {"type": "http", "path": path}


async def _nothing() -> dict[str, Any]:
    return {"type": "http.request", "body": b""}


async def _ignore(_message: Any) -> None:
    return None


def test_requests_beyond_the_limit_wait_in_arrival_order() -> None:
    running: list[int] = []
    peak: list[int] = []
    started: list[str] = []
    release = asyncio.Event()

    async def app(scope: Any, _receive: Any, _send: Any) -> None:
        started.append(scope["path"])
        running.append(1)
        peak.append(len(running))
        await release.wait()
        running.pop()

    limited = InFlightLimit(app, limit=2)

    async def scenario() -> None:
        paths = [f"/p{i}" for i in range(5)]
        tasks = [asyncio.create_task(limited(_scope(p), _nothing, _ignore)) for p in paths]
        for _ in range(5):
            await asyncio.sleep(0)
        assert started == ["/p0", "/p1"]
        health = asyncio.create_task(limited(_scope("/healthz"), _nothing, _ignore))
        await asyncio.sleep(0)
        assert started[-1] == "/healthz"  # not queued behind the pages
        release.set()
        await asyncio.gather(*tasks, health)
        assert started == ["/p0", "/p1", "/healthz", "/p2", "/p3", "/p4"]

    asyncio.run(scenario())
    assert max(peak) == 3  # two pages and the health check


def test_each_event_loop_gets_its_own_semaphore() -> None:
    async def app(_scope: Any, _receive: Any, _send: Any) -> None:
        await asyncio.sleep(0)

    limited = InFlightLimit(app, limit=1)

    async def burst() -> None:
        await asyncio.gather(*(limited(_scope("/x"), _nothing, _ignore) for _ in range(3)))

    asyncio.run(burst())
    asyncio.run(burst())  # a second loop (TestClient starts one per client) works too
