"""VK JSON → RawMessage, URL rewriting and error mapping: pure, no network, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collectors.errors import (
    RateLimitedError,
    SourceAuthError,
    SourceInaccessibleError,
    TemporaryError,
)
from collectors.vk_client import VkMethodError, api_error, rewrite_url
from collectors.vk_parse import (
    attachments_of,
    comment_to_raw,
    dm_to_raw,
    geo_of,
    names_from,
    photo_url,
    post_to_raw,
    reply_target,
)
from core.types import Geo

SECRET = "k"
NAMES = {501: "Иван Петров", -1001: "Администрация"}
DATE = 1_795_000_000


def _post(**extra: object) -> dict[str, object]:
    return {"id": 7, "owner_id": -1001, "from_id": -1001, "date": DATE, "text": "Нет воды"} | extra


def test_post_maps_every_field() -> None:
    geo = {"type": "point", "coordinates": "47.70 131.10", "place": {"title": "Амурзет"}}
    msg = post_to_raw(_post(signer_id=501, geo=geo), source="vk-a", names=NAMES, secret=SECRET)
    assert msg is not None
    assert (msg.source, msg.external_id, msg.url) == (
        "vk-a",
        "wall-1001_7",
        "https://vk.com/wall-1001_7",
    )
    assert msg.created_at == datetime.fromtimestamp(DATE, UTC) and msg.created_at.tzinfo is UTC
    assert msg.author_name == "Иван Петров" and msg.author_id and "501" not in msg.author_id
    assert (msg.geo, msg.place_text) == (Geo(47.7, 131.1), "Амурзет")


def test_text_is_kept_as_is_and_empty_items_are_skipped() -> None:
    text = "  Яма!!! 😡\n ул. Ленина  "
    assert post_to_raw(_post(text=text), source="s", names={}, secret=SECRET).text == text  # type: ignore[union-attr]
    assert post_to_raw(_post(text="  "), source="s", names={}, secret=SECRET) is None
    photo_only = _post(text="", attachments=[{"type": "video", "video": {}}])
    assert post_to_raw(photo_only, source="s", names={}, secret=SECRET).attachments == ("video",)  # type: ignore[union-attr]
    deleted = {"id": 9, "from_id": 0, "date": DATE, "text": "", "deleted": True}
    assert (
        comment_to_raw(deleted, source="s", owner_id=-1, post_id=7, names={}, secret=SECRET) is None
    )


def test_comment_in_a_thread_points_to_its_parent() -> None:
    reply = {
        "id": 12,
        "from_id": 501,
        "date": DATE,
        "text": "Да",
        "parents_stack": [10],
        "reply_to_comment": 11,
    }
    msg = comment_to_raw(reply, source="s", owner_id=-1001, post_id=7, names=NAMES, secret=SECRET)
    assert msg is not None
    assert msg.external_id == "comment-1001_7_12"
    assert (msg.thread_id, msg.reply_to) == ("wall-1001_7", "comment-1001_7_11")
    assert msg.url == "https://vk.com/wall-1001_7?reply=12&thread=10"
    top = {"id": 10, "from_id": 501, "date": DATE, "text": "Когда?"}
    first = comment_to_raw(top, source="s", owner_id=-1001, post_id=7, names=NAMES, secret=SECRET)
    assert first is not None and first.reply_to == "wall-1001_7"


def test_community_message_never_shows_the_raw_peer() -> None:
    message = {
        "id": 3,
        "date": DATE,
        "peer_id": 501,
        "from_id": 501,
        "text": "Помогите",
        "conversation_message_id": 4,
        "geo": {"coordinates": {"latitude": 47.7, "longitude": 131.1}},
    }
    msg = dm_to_raw(message, source="s", group_id=1001, names=NAMES, secret=SECRET)
    assert msg is not None and msg.external_id.startswith("dm-") and msg.external_id.endswith("_4")
    assert "501" not in f"{msg.external_id}{msg.thread_id}{msg.author_id}{msg.url}"
    assert msg.geo == Geo(47.7, 131.1) and msg.author_name == "Иван Петров"


def test_photos_give_their_largest_copy_and_links_their_url() -> None:
    sizes = [
        {"type": "s", "url": "s", "width": 75, "height": 50},
        {"type": "y", "url": "y", "width": 807, "height": 600},
    ]
    assert photo_url({"sizes": sizes}) == "y"
    assert photo_url({"sizes": [{"type": "m", "url": "m"}, {"type": "w", "url": "w"}]}) == "w"
    assert photo_url({"orig_photo": {"url": "orig"}, "sizes": sizes}) == "orig"
    item = {
        "attachments": [
            {"type": "link", "link": {"url": "https://gis.ru"}},
            {"type": "doc", "doc": {}},
        ]
    }
    assert attachments_of(item) == ("https://gis.ru", "doc")


def test_malformed_geo_is_dropped_not_fatal() -> None:
    assert geo_of({"geo": {"coordinates": "north"}}) == (None, None)
    assert geo_of({}) == (None, None)


def test_names_from_profiles_and_groups() -> None:
    response = {
        "profiles": [{"id": 5, "first_name": "А", "last_name": "Б"}],
        "groups": [{"id": 9, "name": "Клуб"}],
    }
    assert names_from(response) == {5: "А Б", -9: "Клуб"}


def test_reply_target_reads_back_stored_ids() -> None:
    assert reply_target("wall-1001_7") == (-1001, 7, None)
    assert reply_target("comment-1001_7_12") == (-1001, 7, 12)
    with pytest.raises(ValueError):
        reply_target("dm-abc_1")


@given(st.from_regex(r"[a-zA-Z]+\.[a-zA-Z]+", fullmatch=True), st.sampled_from(["ru", "com"]))
def test_vk_method_urls_go_to_the_configured_base(method: str, tld: str) -> None:
    assert rewrite_url(f"https://api.vk.{tld}/method/{method}", "http://127.0.0.1:9/") == (
        f"http://127.0.0.1:9/method/{method}"
    )


def test_other_urls_are_not_rewritten() -> None:
    assert rewrite_url("https://lp.vk.com/wh1", "http://x") == "https://lp.vk.com/wh1"
    assert (
        rewrite_url("https://api.vk.ru/method/x", "https://api.vk.ru")
        == "https://api.vk.ru/method/x"
    )


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (5, SourceAuthError),
        (27, SourceAuthError),
        (15, SourceInaccessibleError),
        (18, SourceInaccessibleError),
        (30, SourceInaccessibleError),
        (100, VkMethodError),
    ],
)
def test_vk_error_codes_map_to_source_health(code: int, expected: type) -> None:
    assert type(api_error(code, "msg", method="wall.get")) is expected


def test_quota_errors_pause_for_hours_and_6_is_retried_first() -> None:
    for code in (9, 29):
        error = api_error(code, "msg", method="wall.get")
        assert isinstance(error, RateLimitedError) and error.retry_after >= timedelta(hours=1)
    retry = api_error(6, "msg", method="wall.get")
    assert isinstance(retry.final, RateLimitedError) and retry.refused  # type: ignore[union-attr]
    assert isinstance(api_error(10, "msg", method="x").final, TemporaryError)  # type: ignore[union-attr]
