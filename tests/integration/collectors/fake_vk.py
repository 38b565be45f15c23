"""A local fake of the VK API speaking its wire format, with scriptable faults.

Real vk_api reaches it through MCU_VK_API_BASE (VkSession rewrites api.vk.ru). It serves
wall.get, wall.getComments (threads included), wall.createComment, newsfeed.search,
groups.getLongPollServer + the long-poll server itself, and users.get.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Params = dict[str, str]
ERROR_TEXT = {
    5: "User authorization failed: invalid access_token",
    6: "Too many requests per second",
    9: "Flood control",
    15: "Access denied: group is blocked",
    29: "Rate limit reached",
}


@dataclass
class Fault:
    """What the next matching call gets instead of an answer."""

    method: str
    code: int | None = None  # a VK error code
    status: int | None = None  # an HTTP status
    drop: bool = False  # close the connection without a response
    times: int = 1
    when: Callable[[Params], bool] | None = None


@dataclass
class FakeVk:
    group_id: int = 1001
    group_name: str = "Администрация района"
    tokens: set[str] = field(default_factory=lambda: {"group-token", "user-token"})
    posts: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    users: dict[int, tuple[str, str]] = field(default_factory=dict)
    search_items: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    lp_key: str = "key-1"
    lp_failed: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    calls: list[tuple[str, Params]] = field(default_factory=list)
    url: str = ""
    _next_id: int = 1
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- lifecycle --------------------------------------------------------------------

    def start(self) -> str:
        """Serve on a free port of 127.0.0.1; return the base URL."""
        fake = self

        class Handler(_Handler):
            owner = fake

        server = self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        # A short poll interval: shutdown() waits for it, 0.5 s by default on every teardown.
        poll = {"poll_interval": 0.02}
        threading.Thread(target=server.serve_forever, kwargs=poll, daemon=True).start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        return self.url

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- data -------------------------------------------------------------------------

    def _id(self) -> int:
        self._next_id += 1  # posts and comments share one sequence per wall, as in VK
        return self._next_id

    def add_user(self, user_id: int, first: str, last: str) -> None:
        self.users[user_id] = (first, last)

    def add_post(self, text: str, *, date: int, from_id: int | None = None, **extra: Any) -> int:
        post_id = self._id()
        self.posts[post_id] = {
            "id": post_id,
            "owner_id": -self.group_id,
            "from_id": from_id or -self.group_id,
            "date": date,
            "text": text,
            "post_type": "post",
            **extra,
        }
        self.comments[post_id] = []
        return post_id

    def add_comment(
        self,
        post_id: int,
        text: str,
        *,
        date: int,
        from_id: int,
        reply_to: int | None = None,
        **extra: Any,
    ) -> int:
        comment_id = self._id()
        top = self._top_of(post_id, reply_to)
        comment = {
            "id": comment_id,
            "from_id": from_id,
            "date": date,
            "text": text,
            "post_id": post_id,
            "owner_id": -self.group_id,
            "parents_stack": [top] if top else [],
            **({"reply_to_comment": reply_to} if reply_to and reply_to != top else {}),
            **extra,
        }
        self.comments[post_id].append(comment)
        return comment_id

    def _top_of(self, post_id: int, reply_to: int | None) -> int | None:
        if reply_to is None:
            return None
        parent = next(c for c in self.comments[post_id] if c["id"] == reply_to)
        return int(parent["parents_stack"][0]) if parent["parents_stack"] else reply_to

    def add_search_hit(self, owner_id: int, text: str, *, date: int, from_id: int) -> int:
        post_id = self._id()
        self.search_items.append(
            {"id": post_id, "owner_id": owner_id, "from_id": from_id, "date": date, "text": text}
        )
        return post_id

    def add_dm(self, from_id: int, text: str, *, date: int) -> None:
        cmid = 1 + sum(1 for e in self.events if e["object"]["message"]["peer_id"] == from_id)
        message = {
            "id": len(self.events) + 1,
            "date": date,
            "peer_id": from_id,
            "from_id": from_id,
            "text": text,
            "conversation_message_id": cmid,
            "attachments": [],
        }
        self.events.append({"type": "message_new", "object": {"message": message}})

    def fail(self, method: str, **kwargs: Any) -> None:
        """Script a fault for the next call(s) of `method` (see Fault)."""
        self.faults.append(Fault(method=method, **kwargs))

    def count(self, method: str) -> int:
        """How many times `method` was called."""
        return sum(1 for name, _ in self.calls if name == method)

    # --- dispatch ---------------------------------------------------------------------

    def take_fault(self, method: str, params: Params) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method == method and (fault.when is None or fault.when(params)):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def api(self, method: str, params: Params) -> dict[str, Any]:
        if params.get("access_token") not in self.tokens:
            return _error(5, method, params)
        handler = getattr(self, "m_" + method.replace(".", "_"), None)
        if handler is None:
            return _error(3, method, params)
        return {"response": handler(params)}

    def _profiles(self, author_ids: set[int]) -> dict[str, Any]:
        profiles = [
            {"id": uid, "first_name": self.users[uid][0], "last_name": self.users[uid][1]}
            for uid in sorted(author_ids)
            if uid in self.users
        ]
        group = {"id": self.group_id, "name": self.group_name, "screen_name": "club"}
        return {"profiles": profiles, "groups": [group]}

    def _post_view(self, post: dict[str, Any]) -> dict[str, Any]:
        view = {**post, "comments": {"count": len(self.comments[post["id"]])}}
        return view | ({"is_pinned": 1} if post.get("is_pinned") else {})

    def m_wall_get(self, p: Params) -> dict[str, Any]:
        posts = sorted(self.posts.values(), key=lambda x: (not x.get("is_pinned"), -x["id"]))
        offset, count = int(p.get("offset", 0)), int(p.get("count", 20))
        items = [self._post_view(x) for x in posts[offset : offset + count]]
        authors = {x["from_id"] for x in items} | {
            x["signer_id"] for x in items if "signer_id" in x
        }
        return {"count": len(posts), "items": items} | self._profiles(authors)

    def m_wall_getComments(self, p: Params) -> dict[str, Any]:
        post_id = int(p["post_id"])
        every = self.comments[post_id]
        if "comment_id" in p:
            level = [c for c in every if c["parents_stack"] == [int(p["comment_id"])]]
        else:
            level = [c for c in every if not c["parents_stack"]]
        level = sorted(level, key=lambda c: c["id"], reverse=p.get("sort") == "desc")
        offset, count = int(p.get("offset", 0)), int(p.get("count", 10))
        preview = int(p.get("thread_items_count", 0))
        items = []
        for comment in level[offset : offset + count]:
            replies = [c for c in every if c["parents_stack"] == [comment["id"]]]
            thread = {"count": len(replies), "items": replies[:preview], "can_post": True}
            items.append({**comment, "thread": thread} if "comment_id" not in p else comment)
        authors = {c["from_id"] for c in items} | {
            r["from_id"] for c in items for r in c.get("thread", {}).get("items", [])
        }
        return {"count": len(level), "current_level_count": len(level), "items": items} | (
            self._profiles(authors)
        )

    def m_wall_createComment(self, p: Params) -> dict[str, Any]:
        reply_to = int(p["reply_to_comment"]) if "reply_to_comment" in p else None
        post_id = int(p["post_id"])
        comment_id = self.add_comment(
            post_id,
            p["message"],
            date=2_000_000_000,
            from_id=-int(p["from_group"]),
            reply_to=reply_to,
        )
        return {"comment_id": comment_id, "parents_stack": [reply_to] if reply_to else []}

    def m_newsfeed_search(self, p: Params) -> dict[str, Any]:
        query = p["q"].lower()
        start, end = int(p.get("start_time", 0)), int(p.get("end_time", 2**40))
        hits = sorted(
            (
                h
                for h in self.search_items
                if query in h["text"].lower() and start <= h["date"] <= end
            ),
            key=lambda h: -h["date"],
        )
        offset, count = int(p.get("start_from") or 0), int(p.get("count", 30))
        page = hits[offset : offset + count]
        more = offset + count < len(hits)
        return (
            {"items": page, "count": len(page), "total_count": len(hits)}
            | ({"next_from": str(offset + count)} if more else {})
            | self._profiles({h["from_id"] for h in page})
        )

    def m_groups_getLongPollServer(self, p: Params) -> dict[str, Any]:
        return {"key": self.lp_key, "server": f"{self.url}/lp", "ts": str(len(self.events))}

    def m_users_get(self, p: Params) -> list[dict[str, Any]]:
        ids = [int(x) for x in p["user_ids"].split(",")]
        return list(self._profiles(set(ids))["profiles"])

    def a_check(self, params: Params) -> dict[str, Any]:
        if self.lp_failed:
            return self.lp_failed.pop(0)
        if params.get("key") != self.lp_key:
            return {"failed": 2}
        ts = int(params["ts"])
        return {"ts": str(len(self.events)), "updates": self.events[ts:]}


def _error(code: int, method: str, params: Params) -> dict[str, Any]:
    shown = [{"key": k, "value": v} for k, v in params.items() if k != "access_token"]
    shown.append({"key": "method", "value": method})
    message = ERROR_TEXT.get(code, f"Error {code}")
    return {"error": {"error_code": code, "error_msg": message, "request_params": shown}}


class _Handler(BaseHTTPRequestHandler):
    owner: FakeVk

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def _reply(self, status: int, body: Any) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _fault(self, method: str, params: Params) -> bool:
        fault = self.owner.take_fault(method, params)
        if fault is None:
            return False
        if fault.drop:
            self.close_connection = True
            self.connection.close()
        elif fault.status is not None:
            self._reply(fault.status, {"error": "internal"})
        else:
            self._reply(200, _error(fault.code or 1, method, params))
        return True

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
        params = {k: v[-1] for k, v in raw.items()}
        method = urlsplit(self.path).path.removeprefix("/method/")
        self.owner.calls.append((method, params))
        if not self._fault(method, params):
            self._reply(200, self.owner.api(method, params))

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.owner.calls.append(("lp", params))
        if url.path == "/lp" and not self._fault("lp", params):
            self._reply(200, self.owner.a_check(params))
