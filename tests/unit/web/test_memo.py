"""The memo of expensive aggregates: remembers for its lifetime, off at 0 seconds."""

from __future__ import annotations

import asyncio
import threading

from web.memo import Memo


def test_a_value_is_computed_once_while_it_lives() -> None:
    memo = Memo(60)
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    assert memo.get("k", compute) == 1
    assert memo.get("k", compute) == 1
    assert memo.get("other", compute) == 2
    memo.clear()
    assert memo.get("k", compute) == 3


def test_zero_seconds_turns_the_memo_off() -> None:
    memo = Memo(0)
    values = iter(range(10))
    assert [memo.get("k", lambda: next(values)) for _ in range(3)] == [0, 1, 2]


def test_keys_of_different_scopes_do_not_mix() -> None:
    memo = Memo(60)
    assert memo.get(("totals", ("roads",)), lambda: "roads only") == "roads only"
    assert memo.get(("totals", None), lambda: "everything") == "everything"
    assert memo.get(("totals", ("roads",)), lambda: "recomputed") == "roads only"


def test_threads_read_and_write_without_losing_values() -> None:
    memo = Memo(60, maxsize=1000)
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            for i in range(200):
                assert memo.get(i, lambda i=i: i * 2) == i * 2
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_requests_that_miss_together_compute_a_shared_value_once() -> None:
    memo = Memo(60)
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow() -> str:
        calls.append(1)
        started.set()
        release.wait(5)
        return "page"

    results: list[str] = []
    first = threading.Thread(target=lambda: results.append(memo.shared("v1", slow)))
    first.start()
    assert started.wait(5)
    others = [
        threading.Thread(target=lambda: results.append(memo.shared("v1", slow))) for _ in range(5)
    ]
    for thread in others:
        thread.start()
    release.set()
    for thread in [first, *others]:
        thread.join(5)
    assert results == ["page"] * 6
    assert calls == [1]  # the five that missed meanwhile waited for the first one's value


def test_when_the_first_computation_fails_the_waiting_ones_compute_themselves() -> None:
    memo = Memo(60)
    started, release = threading.Event(), threading.Event()

    def failing() -> str:
        started.set()
        release.wait(5)
        raise RuntimeError("database gone")

    errors: list[BaseException] = []

    def owner() -> None:
        try:
            memo.shared("v1", failing)
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=owner)
    thread.start()
    assert started.wait(5)
    waiter: list[str] = []
    other = threading.Thread(target=lambda: waiter.append(memo.shared("v1", lambda: "own")))
    other.start()
    release.set()
    thread.join(5)
    other.join(5)
    assert len(errors) == 1 and waiter == ["own"]


def test_a_shared_value_is_not_kept_when_the_memo_is_off() -> None:
    memo = Memo(0)
    values = iter(range(10))
    assert [memo.shared("k", lambda: next(values)) for _ in range(3)] == [0, 1, 2]


def test_requests_on_the_loop_that_miss_together_compute_once_in_a_thread() -> None:
    memo = Memo(60)
    calls: list[str] = []
    release = threading.Event()

    def slow() -> str:
        calls.append(threading.current_thread().name)
        release.wait(5)
        return "page"

    async def scenario() -> list[str]:
        first = asyncio.create_task(memo.shared_async("v1", slow))
        while not calls:  # the first one's computation has started
            await asyncio.sleep(0.01)
        others = [asyncio.create_task(memo.shared_async("v1", slow)) for _ in range(5)]
        await asyncio.sleep(0.01)
        release.set()
        return await asyncio.gather(first, *others)

    assert asyncio.run(scenario()) == ["page"] * 6
    assert len(calls) == 1 and calls[0] != threading.main_thread().name  # not on the loop
    # Remembered: a later request neither computes nor leaves the loop.
    assert asyncio.run(memo.shared_async("v1", lambda: "recomputed")) == "page"


def test_on_the_loop_when_the_first_computation_fails_the_others_compute_themselves() -> None:
    memo = Memo(60)
    started = threading.Event()
    release = threading.Event()

    def failing() -> str:
        started.set()
        release.wait(5)
        raise RuntimeError("database gone")

    async def scenario() -> tuple[BaseException | str, str]:
        owner = asyncio.create_task(memo.shared_async("v1", failing))
        while not started.is_set():
            await asyncio.sleep(0.01)
        waiter = asyncio.create_task(memo.shared_async("v1", lambda: "own"))
        await asyncio.sleep(0.01)
        release.set()
        first, second = await asyncio.gather(owner, waiter, return_exceptions=True)
        assert isinstance(second, str)
        return first, second

    first, second = asyncio.run(scenario())
    assert isinstance(first, RuntimeError) and second == "own"


def test_on_the_loop_nothing_is_kept_when_the_memo_is_off() -> None:
    memo = Memo(0)
    values = iter(range(10))

    async def three() -> list[int]:
        return [await memo.shared_async("k", lambda: next(values)) for _ in range(3)]

    assert asyncio.run(three()) == [0, 1, 2]
