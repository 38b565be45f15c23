"""What a collector raises when a pass cannot complete; the runner maps each to source health."""

from __future__ import annotations

from datetime import timedelta


class CollectorError(Exception):
    """A pass failed; nothing of it is stored and the cursor stays where it was."""

    status = "error"


class SourceAuthError(CollectorError):
    """The token is dead or lacks rights (VK error 5): an admin must act."""

    status = "token_dead"


class SourceInaccessibleError(CollectorError):
    """The community or chat is closed, deleted or banned (VK 15/18/30)."""

    status = "inaccessible"


class RateLimitedError(CollectorError):
    """The service asked us to wait (VK 6/9/29, Telegram 429): retry after `retry_after`."""

    status = "rate_limited"

    def __init__(self, message: str, *, retry_after: timedelta) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TemporaryError(CollectorError):
    """HTTP 5xx, timeouts, connection resets: retried with backoff on the next pass."""

    status = "error"
