"""The data version of the page cache: one batched query for requests that ask together,
never an answer taken before the request arrived (real PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from tests.pg import private_schema
from web.response_cache import SnapshotVersion


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    with private_schema("snapshot") as engine:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x int)"))
        yield engine


def _write(engine: Engine) -> None:
    """Commit a write through a connection of the engine's pool, as another process would."""
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))


class GatedVersion(SnapshotVersion):
    """Holds each answer at a gate after its query ran, until the test opens it."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.gate = asyncio.Event()
        self.read = asyncio.Event()

    async def _read(self) -> str | None:
        version = await super()._read()
        self.read.set()
        await self.gate.wait()
        return version


def test_requests_that_ask_together_share_one_query(pg_engine: Engine) -> None:
    version = SnapshotVersion(pg_engine)

    async def ask() -> list[str | None]:
        try:
            return await asyncio.gather(*(version.current() for _ in range(20)))
        finally:
            await version.aclose()

    answers = asyncio.run(ask())
    assert len(set(answers)) == 1 and answers[0]
    assert version.queries == 1


def test_a_request_arriving_during_a_query_waits_for_the_next_one(pg_engine: Engine) -> None:
    """The query in flight took its snapshot before the write; the request that arrived
    after the write must not get that answer, but one taken after it arrived."""
    version = GatedVersion(pg_engine)

    async def scenario() -> tuple[str | None, str | None]:
        try:
            first = asyncio.create_task(version.current())
            await version.read.wait()  # the first query has run: its snapshot is taken
            await asyncio.to_thread(_write, pg_engine)
            second = asyncio.create_task(version.current())
            await asyncio.sleep(0)
            version.gate.set()
            return await first, await second
        finally:
            await version.aclose()

    before, after = asyncio.run(scenario())
    assert before and after and before != after
    assert version.queries == 2


def test_a_cancelled_request_does_not_cancel_its_batch(pg_engine: Engine) -> None:
    version = GatedVersion(pg_engine)

    async def scenario() -> str | None:
        try:
            leaving = asyncio.create_task(version.current())
            staying = asyncio.create_task(version.current())
            await version.read.wait()
            leaving.cancel()  # a client that went away
            version.gate.set()
            with pytest.raises(asyncio.CancelledError):
                await leaving
            return await staying
        finally:
            await version.aclose()

    assert asyncio.run(scenario())


def test_a_closed_connection_is_opened_again(pg_engine: Engine) -> None:
    version = SnapshotVersion(pg_engine)

    async def scenario() -> tuple[str | None, str | None]:
        try:
            first = await version.current()
            await version.aclose()
            await asyncio.to_thread(_write, pg_engine)
            return first, await version.current()
        finally:
            await version.aclose()

    first, second = asyncio.run(scenario())
    assert first and second and first != second


def test_each_event_loop_gets_a_connection_of_its_own(pg_engine: Engine) -> None:
    """Test clients run every request on a new loop: the former loop's connection is closed
    and a new one serves the new loop."""
    version = SnapshotVersion(pg_engine)
    assert asyncio.run(version.current())
    _write(pg_engine)
    assert asyncio.run(version.current())
    assert version.queries == 2
    asyncio.run(version.aclose())
