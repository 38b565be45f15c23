"""Stored pages (web.response_cache) on the real application: PostgreSQL only, never stale.

Any commit anywhere in the PostgreSQL cluster is a new data version, and other tests may
write to the same cluster meanwhile: a test that needs a hit asks again until two requests
fell within one version (`settled`); a request after the test's own write must miss.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Update, select, update
from sqlalchemy.orm import Session

from config.settings import Settings
from core.models import Department, Incident, User
from tests.integration.web.conftest import XSS, XSS_ESCAPED, Web, engine_of
from web import deps
from web.app import create_app
from web.response_cache import ResponseCache

CACHE = "x-mcu-cache"
ATTEMPTS = 30
NEW_TITLE = "Заголовок изменён другим соединением"
ASSIGNED = "Назначен исполнитель"  # the card's history line of an assignment


def settled(client: TestClient, path: str) -> tuple[Response, Response]:
    """The last answer before a hit, and the hit: two requests within one data version."""
    previous = client.get(path, follow_redirects=False)
    for _ in range(ATTEMPTS):
        current = client.get(path, follow_redirects=False)
        if current.headers.get(CACHE) == "hit":
            return previous, current
        assert current.headers.get(CACHE) == "miss"
        previous = current
    pytest.fail(f"{path}: no hit in {ATTEMPTS} requests (is a GET writing to the database?)")


def _number(web: Web, key: str) -> str:
    number = web.world.incidents[key].number
    assert number is not None
    return number


def _write(web: Web, statement: Update) -> None:
    """Commit a change through the test's own connection, not through the application."""
    with engine_of(web).begin() as conn:
        conn.execute(statement)


def _has_page_cache(client: TestClient) -> bool:
    app = client.app
    assert isinstance(app, FastAPI)
    return any(m.cls is ResponseCache for m in app.user_middleware)


def test_only_postgresql_pages_carry_the_cache_header(web: Web) -> None:
    web.login("operator")
    marks = [web.client.get("/triage").headers.get(CACHE) for _ in range(3)]
    if engine_of(web).dialect.name == "sqlite":
        # Not installed at all: no snapshot query failing (and logged) on every request.
        assert marks == [None, None, None] and not _has_page_cache(web.client)
    else:
        assert marks[0] == "miss" and set(marks) <= {"miss", "hit"}
        assert _has_page_cache(web.client)


def test_a_repeated_page_comes_from_the_store_unchanged(pg_web: Web) -> None:
    pg_web.login("operator")
    miss, hit = settled(pg_web.client, "/triage")
    assert hit.status_code == 200 and _number(pg_web, "queue") in hit.text
    assert hit.text == miss.text
    assert hit.headers["content-type"] == miss.headers["content-type"]
    # The security headers are added around the store, once per answer.
    assert hit.headers.get_list("content-security-policy") == [
        miss.headers["content-security-policy"]
    ]
    assert hit.headers.get_list(CACHE) == ["hit"]


def test_a_write_through_another_connection_is_seen_at_once(pg_web: Web) -> None:
    pg_web.login("operator")
    queue = pg_web.world.incidents["queue"]
    _, hit = settled(pg_web.client, "/triage")
    assert NEW_TITLE not in hit.text
    _write(pg_web, update(Incident).where(Incident.id == queue.id).values(title=NEW_TITLE))
    after = pg_web.client.get("/triage")
    assert after.headers[CACHE] == "miss" and NEW_TITLE in after.text
    _, hit_after = settled(pg_web.client, "/triage")
    assert NEW_TITLE in hit_after.text


def test_an_action_in_the_ui_shows_on_the_next_page(pg_web: Web) -> None:
    pg_web.login("operator")
    world = pg_web.world
    queue, number = world.incidents["queue"], _number(pg_web, "queue")
    _, queue_page = settled(pg_web.client, "/triage")
    assert number in queue_page.text
    gkh = world.session.scalar(select(Department.id).where(Department.code == "gkh"))
    response = pg_web.post(f"/triage/{queue.id}/assign", {"department_id": gkh})
    assert response.status_code == 303
    after = pg_web.client.get("/triage")
    assert after.headers[CACHE] == "miss"
    assert number not in after.text  # assigned: no longer in the operators' queue
    # A card stored before the write is not served after it.
    card = pg_web.client.get(f"/incidents/{queue.id}")
    assert card.headers[CACHE] == "miss" and ASSIGNED in card.text


def test_a_filtered_list_is_stored_apart_from_the_whole_queue(pg_web: Web) -> None:
    pg_web.login("operator")
    housing = _number(pg_web, "housing")
    _, queue_page = settled(pg_web.client, "/triage")
    assert housing not in queue_page.text  # assigned, so not in the queue
    open_page = pg_web.client.get("/triage?status=open")
    assert open_page.headers[CACHE] == "miss" and housing in open_page.text
    fragment = pg_web.client.get("/triage/list")
    assert fragment.headers[CACHE] == "miss" and "<html" not in fragment.text


def test_a_deactivated_user_is_sent_to_login_not_served_a_stored_page(pg_web: Web) -> None:
    pg_web.login("operator")
    _, hit = settled(pg_web.client, "/triage")
    assert hit.status_code == 200
    operator = pg_web.world.users["operator"]
    _write(pg_web, update(User).where(User.id == operator.id).values(active=False))
    for _ in range(2):  # the redirect itself is not stored either
        response = pg_web.client.get("/triage", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/triage"
        assert response.headers[CACHE] == "miss"


@pytest.mark.parametrize("path", ["/incidents", "/api/v1/incidents"])
def test_a_sector_head_and_an_operator_never_get_each_others_page(
    pg_web: Web, other: Web, path: str
) -> None:
    housing, roads = _number(pg_web, "housing"), _number(pg_web, "roads")
    pg_web.login("operator")
    other.login("roads_head")
    _, operators = settled(pg_web.client, path)
    heads_first = other.client.get(path)
    assert heads_first.headers[CACHE] == "miss"
    assert heads_first.text != operators.text
    assert housing in operators.text
    assert roads in heads_first.text and housing not in heads_first.text
    _, heads = settled(other.client, path)
    assert roads in heads.text and housing not in heads.text
    again = pg_web.client.get(path)
    assert housing in again.text


def test_markup_in_a_message_is_escaped_in_a_stored_page(pg_web: Web) -> None:
    pg_web.login("operator")
    miss, hit = settled(pg_web.client, "/triage?status=open")  # shows texts and authors
    for page in (miss, hit):
        assert XSS_ESCAPED in page.text and XSS not in page.text
    assert hit.text == miss.text


@pytest.mark.parametrize(("megabytes", "seconds"), [(0, 30), (64, 0)], ids=["no-memory", "no-time"])
def test_the_cache_is_off_when_its_size_or_time_is_zero(
    pg_web: Web, megabytes: float, seconds: float
) -> None:
    settings = Settings(
        secret_key="test-secret",
        var_dir=pg_web.world.tmp,
        web_page_cache_mb=megabytes,
        web_cache_seconds=seconds,
    )
    app = create_app(settings, engine=engine_of(pg_web))
    with TestClient(app) as client:
        web = Web(client=client, world=pg_web.world)
        web.login("operator")
        pages = [client.get("/triage") for _ in range(3)]
    assert all(p.status_code == 200 and CACHE not in p.headers for p in pages)


def test_the_incidents_api_answers_the_same_json_from_the_store(pg_web: Web) -> None:
    pg_web.login("operator")
    miss, hit = settled(pg_web.client, "/api/v1/incidents?per_page=10")
    assert hit.headers["content-type"] == "application/json"
    assert hit.json() == miss.json()
    numbers = {item["number"] for item in hit.json()["items"]}
    assert numbers == {i.number for i in pg_web.world.incidents.values()}
    _write(pg_web, update(Incident).values(title=NEW_TITLE))
    after = pg_web.client.get("/api/v1/incidents?per_page=10")
    assert after.headers[CACHE] == "miss"
    assert {item["title"] for item in after.json()["items"]} == {NEW_TITLE}


def test_a_stored_card_is_never_shown_outside_the_readers_scope(pg_web: Web, other: Web) -> None:
    housing = pg_web.world.incidents["housing"].id
    pg_web.login("operator")
    _, hit = settled(pg_web.client, f"/incidents/{housing}")
    assert hit.status_code == 200 and _number(pg_web, "housing") in hit.text
    other.login("roads_head")
    refused = other.client.get(f"/incidents/{housing}")
    assert refused.status_code == 404 and refused.headers[CACHE] == "miss"
    assert other.client.get(f"/api/v1/incidents/{housing}").status_code == 404


def test_requests_of_one_data_version_read_the_user_once(
    pg_web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Other tests may write meanwhile (a new version reads the user again): some round of
    three requests on pages not stored yet must have read it only once."""
    reads: list[int] = []
    real = deps._read_user

    def counted(session: Session, uid: int) -> User | None:
        reads.append(uid)
        return real(session, uid)

    monkeypatch.setattr(deps, "_read_user", counted)
    pg_web.login("operator")
    rounds = []
    for attempt in range(ATTEMPTS):
        reads.clear()
        pages = [pg_web.client.get(f"/api/v1/incidents?page={3 * attempt + k}") for k in (1, 2, 3)]
        assert all(p.status_code == 200 and p.headers[CACHE] == "miss" for p in pages)
        rounds.append(len(reads))
        if len(reads) == 1:
            break
    assert rounds[-1] == 1, rounds
