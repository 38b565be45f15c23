"""Demo source: replays invented citizen messages at a steady rate, as if they arrived now."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from collectors.base import Batch, pseudonymize
from core.types import Geo, RawMessage

DEMO_FILE = Path(__file__).resolve().parent / "demo_data" / "messages.jsonl"
CHANNELS = ("vk", "telegram", "email", "portal", "pos", "open311")


@dataclass(frozen=True, slots=True)
class DemoItem:
    channel: str
    author: str
    text: str
    settlement: str | None
    street: str | None
    house: str | None
    lat: float | None
    lon: float | None
    expected_block: str
    urgent: bool


@lru_cache(maxsize=4)
def load_items(path: Path = DEMO_FILE) -> tuple[DemoItem, ...]:
    """The demo messages file (one JSON object per line)."""
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        raw = json.loads(line)
        items.append(
            DemoItem(
                channel=raw["channel"] if raw["channel"] in CHANNELS else "portal",
                author=raw.get("author") or "Житель",
                text=raw["text"],
                settlement=raw.get("settlement"),
                street=raw.get("street"),
                house=raw.get("house"),
                lat=raw.get("lat"),
                lon=raw.get("lon"),
                expected_block=raw.get("expected_block") or "other",
                urgent=bool(raw.get("urgent")),
            )
        )
    return tuple(items)


def demo_source_name(channel: str) -> str:
    """Demo messages are stored under one source per channel, so SLA policies differ."""
    return f"demo-{channel}"


def to_raw(item: DemoItem, *, seq: int, at: datetime, secret: str) -> RawMessage:
    """One demo item as the source would deliver it."""
    geo = Geo(item.lat, item.lon) if item.lat is not None and item.lon is not None else None
    place = ", ".join(p for p in (item.settlement, item.street, item.house) if p) or None
    return RawMessage(
        source=demo_source_name(item.channel),
        external_id=f"demo-{seq}",
        text=item.text,
        created_at=at,
        author_id=pseudonymize(kind=item.channel, account_id=item.author, secret=secret),
        author_name=item.author,
        geo=geo,
        place_text=place if item.channel in ("portal", "open311", "pos") else None,
    )


class DemoCollector:
    """Emits `rate_per_minute` messages per minute of elapsed time, cycling through the file."""

    kind = "demo"

    def __init__(self, *, rate_per_minute: float, secret: str, max_batch: int = 50) -> None:
        self.rate_per_minute = rate_per_minute
        self.secret = secret
        self.max_batch = max_batch

    def fetch(self, *, cursor: dict[str, Any], now: datetime) -> Batch:
        """Messages due since the cursor's last emission; the cursor keeps the sequence."""
        items = load_items()
        seq = int(cursor.get("seq", 0))
        last = cursor.get("last_at")
        if last is None:
            due = min(3, self.max_batch)  # something to look at right away
        else:
            elapsed_min = (now - datetime.fromisoformat(last)).total_seconds() / 60
            due = min(int(elapsed_min * self.rate_per_minute), self.max_batch)
        if due <= 0 or not items:
            return Batch(
                messages=(),
                cursor=dict(cursor) if last else {"seq": seq, "last_at": now.isoformat()},
            )
        batch = [
            to_raw(items[(seq + i) % len(items)], seq=seq + i, at=now, secret=self.secret)
            for i in range(due)
        ]
        return Batch(messages=batch, cursor={"seq": seq + due, "last_at": now.isoformat()})
