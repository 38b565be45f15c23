"""Pipeline DTOs passed between packages (plain data, no ORM)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Geo:
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One citizen message as a source delivered it, before any processing."""

    source: str
    external_id: str
    text: str
    created_at: datetime
    author_id: str | None = None  # pseudonymous (hashed) id, never the raw account id
    author_name: str | None = None
    url: str | None = None
    thread_id: str | None = None
    reply_to: str | None = None
    attachments: tuple[str, ...] = ()
    geo: Geo | None = None
    place_text: str | None = None
    contact: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoreResult:
    fetched: int
    stored: int
    duplicates: int
    errors: int

    def to_dict(self) -> dict[str, int]:
        return {
            "fetched": self.fetched,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "errors": self.errors,
        }
