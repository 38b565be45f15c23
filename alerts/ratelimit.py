"""Pure token buckets: per chat (1 msg/s) and global (25 msg/s), on an injectable clock.

Telegram asks bots to stay under about one message per second per chat and about thirty
per second overall, and answers 429 otherwise; aiogram does not resend, so the outbox paces
itself. Capacity 1 makes both buckets smooth (no bursts): a chat gets at most one message
per second, the bot at most 25 per second.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

Clock = Callable[[], float]
# Idle full buckets carry no information; drop them once this many chats are tracked.
PRUNE_ABOVE = 10_000


@dataclass(slots=True)
class TokenBucket:
    """`rate` tokens per second up to `capacity`; `tokens` as of the instant `stamp`."""

    rate: float
    capacity: float
    tokens: float
    stamp: float

    def level(self, at: float) -> float:
        """Tokens at `at` (never earlier than the last booking)."""
        at = max(at, self.stamp)
        return min(self.capacity, self.tokens + (at - self.stamp) * self.rate)

    def ready_at(self, now: float) -> float:
        """The earliest instant ≥ now when one token is available."""
        start = max(now, self.stamp)
        level = self.level(start)
        return start if level >= 1 else start + (1 - level) / self.rate

    def take(self, at: float) -> None:
        """Spend one token at `at` (the caller checked `ready_at`)."""
        self.tokens = self.level(at) - 1
        self.stamp = max(at, self.stamp)

    def block_until(self, until: float) -> None:
        """No token before `until` (flood control asked us to wait)."""
        self.tokens, self.stamp = 0.0, max(self.stamp, until - 1 / self.rate)


class RateLimiter:
    """Per-chat and global buckets; ask `wait(chat)`, send when it is 0, then `take(chat)`."""

    def __init__(
        self,
        *,
        per_chat: float = 1.0,
        global_rate: float = 25.0,
        chat_burst: float = 1.0,
        global_burst: float = 1.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.per_chat, self.chat_burst = per_chat, chat_burst
        self.clock = clock
        self._global = TokenBucket(global_rate, global_burst, global_burst, clock())
        self._chats: dict[int, TokenBucket] = {}

    def _chat(self, chat_id: int, now: float) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            bucket = TokenBucket(self.per_chat, self.chat_burst, self.chat_burst, now)
            self._chats[chat_id] = bucket
        return bucket

    def wait(self, chat_id: int) -> float:
        """Seconds until a message to `chat_id` is allowed by both buckets (0: now)."""
        now = self.clock()
        ready = max(self._global.ready_at(now), self._chat(chat_id, now).ready_at(now))
        return max(0.0, ready - now)

    def take(self, chat_id: int) -> None:
        """Book one message to `chat_id` now."""
        now = self.clock()
        self._global.take(now)
        self._chat(chat_id, now).take(now)
        if len(self._chats) > PRUNE_ABOVE:
            self._prune(now)

    def pause(self, chat_id: int, seconds: float) -> None:
        """Hold the chat for `seconds` (a 429 for it)."""
        now = self.clock()
        self._chat(chat_id, now).block_until(now + seconds)

    def _prune(self, now: float) -> None:
        full = [c for c, b in self._chats.items() if b.level(now) >= b.capacity]
        for chat_id in full:
            del self._chats[chat_id]


class Unlimited:
    """A limiter that never waits (benchmarks, and a local Bot API server)."""

    def wait(self, chat_id: int) -> float:
        """Always 0."""
        return 0.0

    def take(self, chat_id: int) -> None:
        """Nothing to book."""

    def pause(self, chat_id: int, seconds: float) -> None:
        """Nothing to hold."""


class Limiter(Protocol):
    """What the delivery loop needs from a rate limiter."""

    def wait(self, chat_id: int) -> float:
        """Seconds until a message to the chat is allowed."""
        ...

    def take(self, chat_id: int) -> None:
        """Book one message now."""
        ...

    def pause(self, chat_id: int, seconds: float) -> None:
        """Hold the chat."""
        ...
