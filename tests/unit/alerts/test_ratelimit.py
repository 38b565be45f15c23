"""Token buckets on a fake clock (pure)."""

from __future__ import annotations

import pytest

from alerts.ratelimit import RateLimiter, TokenBucket, Unlimited


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def drain(limiter: RateLimiter, clock: Clock, chats: list[int]) -> list[float]:
    """Send to `chats` in order as fast as allowed; the instants of each send."""
    stamps = []
    for chat in chats:
        clock.t += limiter.wait(chat)
        assert limiter.wait(chat) == 0
        limiter.take(chat)
        stamps.append(clock.t)
    return stamps


def test_one_message_per_second_per_chat() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    stamps = drain(limiter, clock, [1, 1, 1])
    assert stamps == pytest.approx([100.0, 101.0, 102.0])
    assert limiter.wait(2) == pytest.approx(1 / 25)  # another chat: only the global pace


def test_global_rate_over_many_chats() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    stamps = drain(limiter, clock, list(range(101)))
    assert stamps[-1] - stamps[0] == pytest.approx(100 / 25)
    in_one_second = [s for s in stamps if s < stamps[0] + 1.0]
    assert len(in_one_second) == 25


def test_idle_time_does_not_build_a_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    limiter.take(1)
    clock.t += 60
    assert drain(limiter, clock, [1, 1]) == pytest.approx([160.0, 161.0])


def test_pause_holds_a_chat_for_the_flood_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    limiter.pause(7, 3.0)
    assert limiter.wait(7) == pytest.approx(3.0)
    assert limiter.wait(8) == 0


def test_bucket_with_burst() -> None:
    bucket = TokenBucket(rate=1.0, capacity=3.0, tokens=3.0, stamp=0.0)
    for _ in range(3):
        assert bucket.ready_at(0.0) == 0.0
        bucket.take(0.0)
    assert bucket.ready_at(0.0) == pytest.approx(1.0)


def test_idle_chats_are_pruned(monkeypatch: pytest.MonkeyPatch) -> None:
    import alerts.ratelimit as module

    monkeypatch.setattr(module, "PRUNE_ABOVE", 10)
    clock = Clock()
    limiter = RateLimiter(global_rate=1000.0, clock=clock)
    for chat in range(20):
        clock.t += 1.0
        limiter.take(chat)
    assert len(limiter._chats) <= 11
    assert Unlimited().wait(1) == 0
