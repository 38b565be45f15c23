"""What requests of one data version share (web.pages.common.shared), on PostgreSQL.

The queue list is rendered once for every user with the triage permission, with each
session's own CSRF token put in; the incidents API answer once per scope. Other tests may
write to the same PostgreSQL cluster meanwhile (a new version): a test asks again until
two requests fell within one version.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from httpx import Response
from sqlalchemy import Engine, event

from tests.integration.web.conftest import Web, engine_of

ATTEMPTS = 30
TOKEN = re.compile(r'name="csrf" value="([^"]+)"')


@contextmanager
def incident_reads(engine: Engine) -> Iterator[list[str]]:
    """The SQL statements that read the incidents table while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM incidents" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def shared_answer(first: Web, second: Web, path: str) -> tuple[Response, Response]:
    """`first` asks, then `second` asks without reading incidents (within one version)."""
    for _ in range(ATTEMPTS):
        earlier = first.client.get(path)
        with incident_reads(engine_of(first)) as reads:
            later = second.client.get(path)
        if not reads:
            return earlier, later
    pytest.fail(f"{path}: the second user's request read incidents {ATTEMPTS} times")


def test_two_operators_share_the_queue_rendering_with_their_own_csrf_tokens(
    pg_web: Web, other: Web
) -> None:
    pg_web.login("operator")
    other.login("admin")
    assert pg_web.token != other.token
    mine, theirs = shared_answer(pg_web, other, "/triage/list")
    assert set(TOKEN.findall(mine.text)) == {pg_web.token}
    assert set(TOKEN.findall(theirs.text)) == {other.token}
    assert mine.text.replace(pg_web.token, "T") == theirs.text.replace(other.token, "T")
    # A form of the shared rendering works for the session it was given to.
    queue = pg_web.world.incidents["queue"]
    response = other.post(f"/triage/{queue.id}/block", {"block": "roads"})
    assert response.status_code == 303
    assert pg_web.fresh("queue").block_code == "roads"


def test_the_full_queue_page_embeds_the_shared_list_with_the_sessions_token(
    pg_web: Web, other: Web
) -> None:
    pg_web.login("operator")
    other.login("admin")
    _, page = shared_answer(pg_web, other, "/triage")
    assert set(TOKEN.findall(page.text)) == {other.token}
    number = pg_web.world.incidents["queue"].number
    assert number is not None and number in page.text


def test_callers_with_one_scope_share_the_incidents_api_answer(pg_web: Web, other: Web) -> None:
    pg_web.login("operator")
    other.login("coordinator")
    mine, theirs = shared_answer(pg_web, other, "/api/v1/incidents?per_page=10")
    assert mine.json() == theirs.json() and mine.json()["items"]


def test_a_sector_head_reads_the_api_for_their_own_scope(pg_web: Web, other: Web) -> None:
    pg_web.login("operator")
    other.login("roads_head")
    pg_web.client.get("/api/v1/incidents")
    with incident_reads(engine_of(pg_web)) as reads:
        heads = other.client.get("/api/v1/incidents")
    assert reads, "the sector head was given an answer computed for another scope"
    assert {item["block"] for item in heads.json()["items"]} == {"roads"}
