"""The memo of expensive aggregates: remembers for its lifetime, off at 0 seconds."""

from __future__ import annotations

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
