"""The Collector protocol, the message DTO it yields, and author pseudonymisation."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from core.types import Geo, RawMessage, StoreResult

__all__ = ["Batch", "Collector", "Geo", "RawMessage", "StoreResult", "pseudonymize"]


@dataclass(frozen=True, slots=True)
class Batch:
    """What one pass of a collector read, and the cursor to persist after storing it."""

    messages: Sequence[RawMessage]
    cursor: dict[str, Any] = field(default_factory=dict)
    errors: int = 0


class Collector(Protocol):
    """A source of citizen messages; `fetch` must be safe to repeat with the same cursor."""

    kind: str

    def fetch(self, *, cursor: dict[str, Any], now: datetime) -> Batch:
        """Read what is new since `cursor`."""
        ...


def pseudonymize(*, kind: str, account_id: str, secret: str) -> str:
    """A stable pseudonymous author id: the raw account id never reaches the database."""
    digest = hashlib.blake2b(
        f"{kind}:{account_id}".encode(), key=secret.encode()[:64], digest_size=12
    )
    return f"{kind}:{digest.hexdigest()}"
