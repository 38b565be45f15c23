"""VK community collector: wall posts, comments with threads, keyword search, Bots Long Poll."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from collectors.base import Batch
from collectors.errors import CollectorError, SourceAuthError, SourceInaccessibleError
from collectors.vk_client import Sleep, VkClient, VkMethodError
from collectors.vk_feeds import FeedContext, VkPass, longpoll, search_query
from collectors.vk_parse import comment_to_raw, names_from, post_to_raw, vk_time
from config.settings import Settings
from core.models import Source

__all__ = ["VkCollector", "VkOptions", "make_client", "post_reply"]

log = logging.getLogger("mcu.collectors.vk")
PAGE = 100
# Offset pages overlap so that an item deleted between two page reads cannot hide another.
OVERLAP = 5
THREAD_PREVIEW = 10


@dataclass(frozen=True, slots=True)
class VkOptions:
    """What one VK source reads; built from the source row's settings."""

    source: str
    group_id: int
    recheck_days: float = 3.0
    max_pages: int = 20
    search_queries: tuple[str, ...] = ()
    longpoll: bool = False
    longpoll_wait: int = 1


def make_client(
    token: str, *, settings: Settings, min_interval: float = 0.34, sleep: Sleep = time.sleep
) -> VkClient:
    """A client for one token, talking to MCU_VK_API_BASE."""
    return VkClient(
        token=token, api_base=settings.vk_api_base, min_interval=min_interval, sleep=sleep
    )


def post_reply(
    *,
    client: VkClient,
    group_id: int,
    post_id: int,
    text: str,
    reply_to_comment: int | None = None,
    guid: str | None = None,
) -> int:
    """Publish an official answer as the community's comment; return the new comment id."""
    response = client.call(
        "wall.createComment",
        # With guid VK drops a repeated comment, so a lost response may be retried safely.
        idempotent=guid is not None,
        owner_id=-group_id,
        post_id=post_id,
        message=text,
        reply_to_comment=reply_to_comment,
        from_group=group_id,
        guid=guid,
    )
    return int(response["comment_id"])


class VkCollector:
    """Reads one community; a pass either completes with a new cursor or raises."""

    kind = "vk"

    def __init__(
        self,
        *,
        options: VkOptions,
        secret: str,
        client: VkClient,
        search_client: VkClient | None = None,
    ) -> None:
        self.options = options
        self.secret = secret
        self.client = client
        self.search_client = search_client

    @classmethod
    def from_source(
        cls,
        source: Source,
        *,
        settings: Settings,
        settlements: Sequence[str] = (),
        sleep: Sleep = time.sleep,
    ) -> VkCollector:
        """A collector configured from the source row, MCU_* settings and settlement names."""
        conf: Mapping[str, Any] = source.settings or {}
        token = source.secret or settings.vk_token
        if not token:
            raise SourceAuthError(f"у источника {source.name!r} нет ключа доступа VK")
        if not conf.get("group_id"):
            raise CollectorError(f"у источника {source.name!r} не указан group_id")
        interval = float(conf.get("min_interval", 0.34))
        user_token = settings.vk_user_token if conf.get("search", True) else None
        options = VkOptions(
            source=source.name,
            group_id=abs(int(conf["group_id"])),
            recheck_days=float(conf.get("recheck_days", 3)),
            max_pages=int(conf.get("max_pages", 20)),
            search_queries=tuple(conf.get("search_queries") or settlements),
            longpoll=bool(conf.get("longpoll", False)),
            longpoll_wait=int(conf.get("longpoll_wait", 1)),
        )
        client = make_client(token, settings=settings, min_interval=interval, sleep=sleep)
        search = None
        if user_token:
            search = make_client(user_token, settings=settings, min_interval=interval, sleep=sleep)
        return cls(options=options, secret=settings.secret_key, client=client, search_client=search)

    def close(self) -> None:
        """Release the HTTP connections of every client."""
        self.client.close()
        if self.search_client is not None:
            self.search_client.close()

    def fetch(self, *, cursor: dict[str, Any], now: datetime) -> Batch:
        """Everything new since `cursor`; wall errors fail the pass, optional parts count."""
        run = VkPass(now=now)
        updated = {**cursor, **self._wall(cursor, run), "at": now.isoformat()}
        if self.search_client is not None and self.options.search_queries:
            state = cursor.get("search") or {}
            updated["search"] = self._optional("поиск", run, state, self._search(state))
        if self.options.longpoll:
            ts, wait = cursor.get("lp_ts"), self.options.longpoll_wait
            read = partial(longpoll, self.client, feed=self.feed, ts=ts, wait=wait)
            updated["lp_ts"] = self._optional("long poll", run, ts, lambda part: read(run=part))
        return Batch(messages=tuple(run.messages.values()), cursor=updated, errors=run.errors)

    @property
    def feed(self) -> FeedContext:
        """The reader's identity for the search and long-poll feeds."""
        o = self.options
        return FeedContext(
            source=o.source, group_id=o.group_id, secret=self.secret, max_pages=o.max_pages
        )

    def _search(self, state: Mapping[str, Any]) -> Callable[[VkPass], dict[str, Any]]:
        def read(part: VkPass) -> dict[str, Any]:
            assert self.search_client is not None
            start = part.now - timedelta(days=self.options.recheck_days)
            return {
                query: search_query(
                    self.search_client,
                    feed=self.feed,
                    query=query,
                    state=state.get(query) or {},
                    default_start=start,
                    run=part,
                )
                for query in self.options.search_queries
            }

        return read

    def _optional(self, label: str, run: VkPass, keep: Any, part: Callable[[VkPass], Any]) -> Any:
        """Run a best-effort part on its own; on failure keep its old cursor, count an error."""
        own = VkPass(now=run.now)
        try:
            state = part(own)
        except CollectorError as exc:
            log.warning("VK %s (%s): %s", self.options.source, label, exc)
            run.errors += 1
            return keep
        for message in own.messages.values():
            run.add(message)
        run.errors += own.errors
        return state

    # --- wall posts and comments -------------------------------------------------------

    def _wall(self, cursor: Mapping[str, Any], run: VkPass) -> dict[str, Any]:
        first_run = "last_post_id" not in cursor
        last_post = int(cursor.get("last_post_id") or 0)
        known: Mapping[str, Any] = cursor.get("posts") or {}
        # From the last pass, not from now: after an outage the window still covers it.
        since = datetime.fromisoformat(cursor["at"]) if cursor.get("at") else run.now
        cutoff = min(since, run.now) - timedelta(days=self.options.recheck_days)
        states: dict[str, Any] = {}
        newest = last_post
        for post in self._read_wall(
            cutoff=cutoff, last_post=last_post, first_run=first_run, run=run
        ):
            post_id, created = int(post["id"]), vk_time(post["date"])
            newest = max(newest, post_id)
            is_new = post_id > last_post and not (first_run and created < cutoff)
            if is_new:
                run.add(
                    post_to_raw(
                        post, source=self.options.source, names=run.names, secret=self.secret
                    )
                )
            state = known.get(str(post_id))
            if state is None and not is_new and created < cutoff and not post.get("is_pinned"):
                continue
            # An old post seen for the first time (the pinned one) is not backfilled.
            min_date = None if is_new or state is not None else cutoff
            states[str(post_id)] = self._post_comments(post, state or {}, min_date, run)
        return {"last_post_id": newest, "posts": states}

    def _read_wall(
        self, *, cutoff: datetime, last_post: int, first_run: bool, run: VkPass
    ) -> list[dict[str, Any]]:
        def done(page: Sequence[Mapping[str, Any]]) -> bool:
            tail = page[-1]
            old = vk_time(tail["date"]) < cutoff and not tail.get("is_pinned")
            return old and (first_run or int(tail["id"]) <= last_post)

        params = {"owner_id": -self.options.group_id, "extended": 1}
        return list(self._pages(run, self.client, "wall.get", params, stop=done))

    def _post_comments(
        self,
        post: Mapping[str, Any],
        state: Mapping[str, Any],
        min_date: datetime | None,
        run: VkPass,
    ) -> dict[str, int]:
        """New comments of one post; the returned state says how far it is read."""
        count = int((post.get("comments") or {}).get("count") or 0)
        since = int(state.get("c") or 0)
        # Same count: nothing added (a deletion plus an addition waits for the next change).
        if count == int(state.get("n") or 0):
            return {"c": since, "n": count}
        post_id, owner = int(post["id"]), -self.options.group_id
        top, found = since, []
        try:
            for comment in self._comment_tree(post_id, run):
                comment_id = int(comment["id"])
                top = max(top, comment_id)
                own = int(comment.get("from_id") or 0) == owner  # our own answers are not input
                if comment_id <= since or own or (min_date and vk_time(comment["date"]) < min_date):
                    continue
                found.append(comment)
        except (SourceInaccessibleError, VkMethodError) as exc:
            # Comments closed or the post removed meanwhile: the community itself is fine.
            log.warning("VK %s: комментарии к записи %s: %s", self.options.source, post_id, exc)
            run.errors += 1
            return dict(state)
        for comment in found:
            run.add(
                comment_to_raw(
                    comment,
                    source=self.options.source,
                    owner_id=owner,
                    post_id=post_id,
                    names=run.names,
                    secret=self.secret,
                )
            )
        return {"c": top, "n": count}

    def _comment_tree(self, post_id: int, run: VkPass) -> Iterator[dict[str, Any]]:
        base = {
            "owner_id": -self.options.group_id,
            "post_id": post_id,
            "sort": "asc",
            "extended": 1,
        }
        top_level = {**base, "thread_items_count": THREAD_PREVIEW}
        for comment in self._pages(run, self.client, "wall.getComments", top_level):
            yield comment
            thread = comment.get("thread") or {}
            preview: list[dict[str, Any]] = thread.get("items") or []
            if int(thread.get("count") or 0) > len(preview):
                params = {**base, "comment_id": comment["id"]}
                yield from self._pages(run, self.client, "wall.getComments", params)
            else:
                yield from preview

    def _pages(
        self,
        run: VkPass,
        client: VkClient,
        method: str,
        params: Mapping[str, Any],
        stop: Callable[[Sequence[Mapping[str, Any]]], bool] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Items of an offset-paged method, each once, in the order VK gives them."""
        seen: set[int] = set()
        offset = 0
        for _ in range(self.options.max_pages):
            response = client.call(method, offset=offset, count=PAGE, **params)
            run.names.update(names_from(response))
            items = response.get("items") or []
            for item in items:
                if int(item["id"]) not in seen:
                    seen.add(int(item["id"]))
                    yield item
            if len(items) < PAGE or (stop is not None and stop(items)):
                return
            offset += PAGE - OVERLAP
        log.warning(
            "VK %s: %s: прочитаны только первые %d страниц",
            self.options.source,
            method,
            self.options.max_pages,
        )
