"""VK's JSON objects (posts, comments, community messages) as RawMessage; pure, no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from collectors.base import pseudonymize
from core.types import Geo, RawMessage

# Largest first: VK's photo size letters when a size carries no width/height.
PHOTO_TYPES = "wzyrqpoxms"
_EXTERNAL_ID = re.compile(r"^(?:wall|comment)(-?\d+)_(\d+)(?:_(\d+))?$")

Names = dict[int, str]


def vk_time(timestamp: int) -> datetime:
    """VK's unixtime as an aware UTC datetime."""
    return datetime.fromtimestamp(int(timestamp), tz=UTC)


def names_from(response: Mapping[str, Any]) -> Names:
    """Display names from an extended response: users by id, communities by -id."""
    names: Names = {}
    for user in response.get("profiles") or ():
        full = f"{user.get('first_name', '')} {user.get('last_name', '')}".strip()
        if full:
            names[int(user["id"])] = full
    for group in response.get("groups") or ():
        if group.get("name"):
            names[-int(group["id"])] = str(group["name"])
    return names


def photo_url(photo: Mapping[str, Any]) -> str | None:
    """The largest available copy of a photo."""
    orig = photo.get("orig_photo") or {}
    if orig.get("url"):
        return str(orig["url"])
    sizes = [s for s in photo.get("sizes") or () if s.get("url")]
    if not sizes:
        return None

    def rank(size: Mapping[str, Any]) -> tuple[int, int]:
        kind = str(size.get("type", ""))
        order = len(PHOTO_TYPES) - PHOTO_TYPES.index(kind) if kind in PHOTO_TYPES else 0
        return int(size.get("width") or 0) * int(size.get("height") or 0), order

    return str(max(sizes, key=rank)["url"])


def attachments_of(item: Mapping[str, Any]) -> tuple[str, ...]:
    """Photo and link URLs; other attachments by their type (video, doc, audio...)."""
    out: list[str] = []
    for attachment in item.get("attachments") or ():
        kind = str(attachment.get("type", "unknown"))
        body = attachment.get(kind) or {}
        url = photo_url(body) if kind == "photo" else body.get("url") if kind == "link" else None
        out.append(str(url) if url else kind)
    return tuple(out)


def geo_of(item: Mapping[str, Any]) -> tuple[Geo | None, str | None]:
    """Point and place title; wall posts give "lat lon" text, messages give an object."""
    geo = item.get("geo") or {}
    coords = geo.get("coordinates")
    point: Geo | None = None
    try:
        if isinstance(coords, str):
            lat, lon = (float(part) for part in coords.split()[:2])
            point = Geo(lat, lon)
        elif isinstance(coords, Mapping):
            point = Geo(float(coords["latitude"]), float(coords["longitude"]))
    except (KeyError, TypeError, ValueError):
        point = None  # malformed geo is dropped, the message itself is kept
    place = (geo.get("place") or {}).get("title")
    return point, (str(place) if place else None)


def _author(author_id: int | None, names: Names, secret: str) -> tuple[str | None, str | None]:
    if not author_id:
        return None, None
    hashed = pseudonymize(kind="vk", account_id=str(author_id), secret=secret)
    return hashed, names.get(int(author_id))


def _is_empty(item: Mapping[str, Any], attachments: tuple[str, ...]) -> bool:
    return bool(item.get("deleted")) or (
        not str(item.get("text") or "").strip() and not attachments
    )


def post_to_raw(
    post: Mapping[str, Any], *, source: str, names: Names, secret: str
) -> RawMessage | None:
    """A wall post (also a newsfeed.search hit); None when it has nothing to read."""
    attachments = attachments_of(post)
    if _is_empty(post, attachments):
        return None
    owner, post_id = int(post["owner_id"]), int(post["id"])
    # A suggested post published "with signature" names its real author in signer_id.
    author_id, author_name = _author(post.get("signer_id") or post.get("from_id"), names, secret)
    geo, place = geo_of(post)
    return RawMessage(
        source=source,
        external_id=f"wall{owner}_{post_id}",
        text=str(post.get("text") or ""),
        created_at=vk_time(post["date"]),
        author_id=author_id,
        author_name=author_name,
        url=f"https://vk.com/wall{owner}_{post_id}",
        attachments=attachments,
        geo=geo,
        place_text=place,
    )


def comment_to_raw(
    comment: Mapping[str, Any],
    *,
    source: str,
    owner_id: int,
    post_id: int,
    names: Names,
    secret: str,
) -> RawMessage | None:
    """A comment or a thread reply under a post; thread_id is the post, reply_to the parent."""
    attachments = attachments_of(comment)
    if _is_empty(comment, attachments):
        return None
    comment_id = int(comment["id"])
    parents = [int(p) for p in comment.get("parents_stack") or ()]
    parent = comment.get("reply_to_comment") or (parents[-1] if parents else None)
    post_ext = f"wall{owner_id}_{post_id}"
    url = f"https://vk.com/wall{owner_id}_{post_id}?reply={comment_id}"
    author_id, author_name = _author(comment.get("from_id"), names, secret)
    geo, place = geo_of(comment)
    return RawMessage(
        source=source,
        external_id=f"comment{owner_id}_{post_id}_{comment_id}",
        text=str(comment.get("text") or ""),
        created_at=vk_time(comment["date"]),
        author_id=author_id,
        author_name=author_name,
        url=f"{url}&thread={parents[0]}" if parents else url,
        thread_id=post_ext,
        reply_to=f"comment{owner_id}_{post_id}_{int(parent)}" if parent else post_ext,
        attachments=attachments,
        geo=geo,
        place_text=place,
    )


def wall_reply_to_raw(
    reply: Mapping[str, Any], *, source: str, group_id: int, names: Names, secret: str
) -> RawMessage | None:
    """A Bots Long Poll `wall_reply_new` comment; None for the community's own (our answers)."""
    if int(reply.get("from_id") or 0) == -group_id:
        return None
    owner = int(reply.get("post_owner_id") or reply.get("owner_id") or -group_id)
    return comment_to_raw(
        reply,
        source=source,
        owner_id=owner,
        post_id=int(reply["post_id"]),
        names=names,
        secret=secret,
    )


def dm_to_raw(
    message: Mapping[str, Any], *, source: str, group_id: int, names: Names, secret: str
) -> RawMessage | None:
    """A message written to the community; the peer appears only as its pseudonym."""
    attachments = attachments_of(message)
    if _is_empty(message, attachments):
        return None
    # external_id and thread_id are stored too, so they carry the hashed peer, not the raw id.
    peer_hash = pseudonymize(kind="vk", account_id=str(message["peer_id"]), secret=secret)
    peer = peer_hash.removeprefix("vk:")
    author_id, author_name = _author(message.get("from_id"), names, secret)
    geo, place = geo_of(message)
    return RawMessage(
        source=source,
        external_id=f"dm-{peer}_{int(message['conversation_message_id'])}",
        text=str(message.get("text") or ""),
        created_at=vk_time(message["date"]),
        author_id=author_id,
        author_name=author_name,
        url=f"https://vk.com/gim{group_id}",
        thread_id=f"dm-{peer}",
        attachments=attachments,
        geo=geo,
        place_text=place,
    )


def reply_target(external_id: str) -> tuple[int, int, int | None]:
    """(owner_id, post_id, comment_id or None) of a stored wall post or comment."""
    match = _EXTERNAL_ID.match(external_id)
    if match is None:
        raise ValueError(f"не запись и не комментарий VK: {external_id!r}")
    owner, post, comment = match.groups()
    return int(owner), int(post), int(comment) if comment else None
