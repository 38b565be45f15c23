"""The best-effort VK feeds: network-wide keyword search and the community's Bots Long Poll.

Long Poll brings messages to the community (`message_new`) and comments on its wall
(`wall_reply_new`, enabled in the community's Long Poll settings): a comment on a post that
has left the re-read part of the wall (older than `recheck_days`, past the first page), such
as a citizen's late reply to an answer, arrives only this way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from collectors.vk_client import VkClient
from collectors.vk_parse import Names, dm_to_raw, names_from, post_to_raw, wall_reply_to_raw
from core.types import RawMessage

log = logging.getLogger("mcu.collectors.vk")
SEARCH_PAGE = 200
# VK indexes posts for search with a delay: each sweep re-reads this much before its end.
SEARCH_LAG = timedelta(minutes=30)


@dataclass
class VkPass:
    """What one fetch has read so far (messages deduplicated by external id)."""

    now: datetime
    names: Names = field(default_factory=dict)
    messages: dict[str, RawMessage] = field(default_factory=dict)
    errors: int = 0

    def add(self, message: RawMessage | None) -> None:
        """Keep a message unless it is empty or already read in this pass."""
        if message is not None:
            self.messages.setdefault(message.external_id, message)


@dataclass(frozen=True, slots=True)
class FeedContext:
    """Who reads: the source name, the community, the pseudonym key, the page cap."""

    source: str
    group_id: int
    secret: str
    max_pages: int = 20


def search_query(
    client: VkClient,
    *,
    feed: FeedContext,
    query: str,
    state: Mapping[str, Any],
    default_start: datetime,
    run: VkPass,
) -> dict[str, Any]:
    """newsfeed.search hits for one query since its cursor; a long sweep resumes next pass."""
    start = int(state.get("start_time") or default_start.timestamp())
    end = int(state.get("end_time") or run.now.timestamp())
    seen: dict[str, int] = dict(state.get("seen") or {})  # already stored, date >= start
    next_from = state.get("next_from")
    for _ in range(feed.max_pages):
        response = client.call(
            "newsfeed.search",
            q=query,
            extended=1,
            count=SEARCH_PAGE,
            start_time=start,
            end_time=end,
            start_from=next_from,
        )
        run.names.update(names_from(response))
        for item in response.get("items") or ():
            external_id = f"wall{item['owner_id']}_{item['id']}"
            if external_id not in seen:
                seen[external_id] = int(item["date"])
                run.add(post_to_raw(item, source=feed.source, names=run.names, secret=feed.secret))
        next_from = response.get("next_from") or None
        if next_from is None:
            new_start = max(start, end - int(SEARCH_LAG.total_seconds()))
            return {"start_time": new_start, "seen": _since(seen, new_start)}
    return {"start_time": start, "end_time": end, "next_from": next_from, "seen": seen}


def _since(seen: Mapping[str, int], start: int) -> dict[str, int]:
    return {key: date for key, date in seen.items() if date >= start}


def longpoll(client: VkClient, *, feed: FeedContext, ts: str | None, wait: int, run: VkPass) -> str:
    """Messages to the community since `ts`, handling `failed` 1/2/3 as VK documents."""
    server = _server(client, feed)
    key, url, ts = server["key"], server["server"], ts or str(server["ts"])
    for _ in range(feed.max_pages):
        data = client.get_json(url, act="a_check", key=key, ts=ts, wait=wait)
        failed = data.get("failed")
        if failed in (1, 3):
            log.warning("VK %s: long poll failed=%s, часть событий утеряна", feed.source, failed)
            run.errors += 1
        if failed == 2:  # the key expired: a new key, the same ts
            key = _server(client, feed)["key"]
            continue
        if failed == 3:  # key and ts are both lost: start again from VK's current ts
            fresh = _server(client, feed)
            key, ts = fresh["key"], str(fresh["ts"])
            continue
        ts = str(data["ts"])  # failed 1 also carries the ts to go on from
        updates = data.get("updates") or []
        messages = [
            (update.get("object") or {}).get("message") or {}
            for update in updates
            if update.get("type") == "message_new"
        ]
        # Comments on any post, also those older than the wall re-read window.
        replies = [u.get("object") or {} for u in updates if u.get("type") == "wall_reply_new"]
        _add_messages(client, feed, messages, run, replies=replies)
        if failed is None and not updates:
            break
    return ts


def _server(client: VkClient, feed: FeedContext) -> dict[str, Any]:
    return dict(client.call("groups.getLongPollServer", group_id=feed.group_id))


def _add_messages(
    client: VkClient,
    feed: FeedContext,
    messages: list[dict[str, Any]],
    run: VkPass,
    *,
    replies: list[dict[str, Any]] | None = None,
) -> None:
    replies = replies or []
    everyone = [*messages, *replies]
    senders = sorted({int(m["from_id"]) for m in everyone if int(m.get("from_id") or 0) > 0})
    unknown = [user for user in senders if user not in run.names]
    if unknown:  # Long Poll carries no profiles; one users.get names every sender
        users = client.call("users.get", user_ids=",".join(map(str, unknown)))
        run.names.update(names_from({"profiles": users}))
    for message in messages:
        run.add(
            dm_to_raw(
                message,
                source=feed.source,
                group_id=feed.group_id,
                names=run.names,
                secret=feed.secret,
            )
        )
    for reply in replies:
        run.add(
            wall_reply_to_raw(
                reply,
                source=feed.source,
                group_id=feed.group_id,
                names=run.names,
                secret=feed.secret,
            )
        )
