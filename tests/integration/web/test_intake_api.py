"""POST /api/v1/messages: API keys, idempotency by external_id, and every kind of bad input."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli_portal import apikey_app
from collectors.apikeys import create_key
from collectors.portal import MAX_BODY_BYTES, MAX_TEXT_CHARS
from collectors.repository import ensure_source
from config.settings import Settings, get_settings
from core.db import get_engine
from core.models import Message, Source
from web.api import api_router

SECRET = "test-secret"
NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def build_app(session: Session) -> FastAPI:
    """A bare app carrying what the API routers need (web.app wires the same routers)."""
    app = FastAPI()
    app.state.settings = Settings(secret_key=SECRET)
    app.state.engine = session.get_bind()
    app.include_router(api_router)
    return app


def issue_key(session: Session, *, name: str, kind: str) -> str:
    """A fresh key for a (new) source of this kind, committed."""
    source = ensure_source(session, name=name, kind=kind)
    key = create_key(session, source=source, pepper=SECRET, now=NOW).key
    session.commit()
    return key


@pytest.fixture
def client(seeded_session: Session) -> TestClient:
    return TestClient(build_app(seeded_session))


@pytest.fixture
def key(seeded_session: Session) -> str:
    return issue_key(seeded_session, name="site", kind="portal")


def _post(client: TestClient, key: str | None, body: object) -> Response:
    headers = {"X-API-Key": key} if key else {}
    return client.post("/api/v1/messages", json=body, headers=headers)


def _messages(session: Session) -> list[Message]:
    session.expire_all()
    return list(session.scalars(select(Message).order_by(Message.id)))


def test_first_post_is_201_and_stored_as_new(
    client: TestClient, key: str, seeded_session: Session
) -> None:
    body = {
        "external_id": "a-1", "text": "Нет воды\x00 в доме 5", "author": "Иван Петров",
        "created_at": "2026-11-19T10:00:00+10:00", "url": "https://site.example/a/1",
        "place": "Амурзет, ул. Ленина 5", "lat": 47.69, "lon": 131.1,
    }  # fmt: skip
    response = client.post("/api/v1/messages", json=body, headers={"X-API-Key": key})
    assert response.status_code == 201, response.text
    [message] = _messages(seeded_session)
    assert response.json() == {
        "id": message.id,
        "tracking_number": f"П-{message.id:06d}",
        "status": "accepted",
    }
    assert (message.status, message.external_id, message.text) == (
        "new",
        "a-1",
        "Нет воды в доме 5",
    )
    assert message.author_name == "Иван Петров" and message.author_id is not None
    assert "Иван" not in message.author_id and message.author_id.startswith("portal:")
    assert message.created_at == datetime(2026, 11, 19, 0, 0, tzinfo=UTC)
    assert (message.lat, message.lon, message.place_text) == (47.69, 131.1, "Амурзет, ул. Ленина 5")
    source = seeded_session.get(Source, message.source_id)
    assert source is not None and source.name == "site" and source.stored_count == 1


def test_same_external_id_again_is_200_with_the_same_id(
    client: TestClient, key: str, seeded_session: Session
) -> None:
    first = client.post("/api/v1/messages", json={"external_id": "a-1", "text": "Яма"},
                        headers={"X-API-Key": key})  # fmt: skip
    again = client.post("/api/v1/messages", json={"external_id": "a-1", "text": "Яма (повтор)"},
                        headers={"X-API-Key": key})  # fmt: skip
    other = client.post("/api/v1/messages", json={"external_id": "a-2", "text": "Яма"},
                        headers={"X-API-Key": key})  # fmt: skip
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert again.json() == first.json() and other.json()["id"] != first.json()["id"]
    assert [m.text for m in _messages(seeded_session)] == ["Яма", "Яма"]


def test_external_id_is_scoped_by_source(
    client: TestClient, key: str, seeded_session: Session
) -> None:
    other_key = issue_key(seeded_session, name="site-2", kind="portal")
    one = client.post(
        "/api/v1/messages", json={"external_id": "1", "text": "a"}, headers={"X-API-Key": key}
    )
    two = client.post(
        "/api/v1/messages", json={"external_id": "1", "text": "b"}, headers={"X-API-Key": other_key}
    )
    assert (one.status_code, two.status_code) == (201, 201)
    assert one.json()["id"] != two.json()["id"]


@pytest.mark.parametrize("header", [None, "", "garbage", "mcu_00000000_" + "x" * 43])
def test_missing_or_unknown_key_is_401_in_russian(
    client: TestClient, key: str, header: str | None, seeded_session: Session
) -> None:
    headers = {} if header is None else {"X-API-Key": header}
    response = client.post(
        "/api/v1/messages", json={"external_id": "1", "text": "a"}, headers=headers
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "ApiKey"
    assert "Ключ API" in response.json()["detail"] or "ключ API" in response.json()["detail"]
    assert _messages(seeded_session) == []


def test_revoked_key_is_401_and_wrong_kind_is_403(
    client: TestClient, key: str, seeded_session: Session
) -> None:
    from collectors.repository_portal import revoke_api_keys

    pos_key = issue_key(seeded_session, name="pos-upload", kind="pos")
    refused = _post(client, pos_key, {"external_id": "1", "text": "a"})
    assert refused.status_code == 403 and "pos-upload" in refused.json()["detail"]
    revoke_api_keys(seeded_session, prefix=key.split("_")[1], now=NOW)
    seeded_session.commit()
    gone = _post(client, key, {"external_id": "1", "text": "a"})
    assert gone.status_code == 401 and "отозван" in gone.json()["detail"]


def test_disabled_source_is_403(client: TestClient, key: str, seeded_session: Session) -> None:
    source = seeded_session.scalar(select(Source).where(Source.name == "site"))
    assert source is not None
    source.enabled = False
    seeded_session.commit()
    response = _post(client, key, {"external_id": "1", "text": "a"})
    assert response.status_code == 403 and "отключён" in response.json()["detail"]


@pytest.mark.parametrize(
    ("content", "error_type"),
    [
        (b'{"external_id": "1", "text": "a"', "json_invalid"),
        (b"", "json_invalid"),
        (b'{"external_id": "1", "text": 42}', "string_type"),
        (b'{"external_id": "1"}', "missing"),
        (b'{"external_id": "1", "text": "   "}', "text_empty"),
        (b'{"external_id": "1", "text": "a", "lat": 100, "lon": 1}', "lat_range"),
        (b'"just a string"', "model_type"),
    ],
)
def test_bad_json_is_422_with_a_located_error(
    client: TestClient, key: str, content: bytes, error_type: str, seeded_session: Session
) -> None:
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    response = client.post("/api/v1/messages", content=content, headers=headers)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [d["type"] for d in detail] == [error_type]
    assert detail[0]["loc"][0] == "body" and detail[0]["msg"]
    assert _messages(seeded_session) == []


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_non_json_body_is_415(client: TestClient, key: str, content_type: str | None) -> None:
    headers = {"X-API-Key": key} | ({"Content-Type": content_type} if content_type else {})
    response = client.post("/api/v1/messages", content=b"external_id=1&text=a", headers=headers)
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]


def test_huge_text_is_refused_clearly_and_not_echoed(
    client: TestClient, key: str, seeded_session: Session
) -> None:
    over = _post(client, key, {"external_id": "1", "text": "я" * (MAX_TEXT_CHARS + 1)})
    assert over.status_code == 422
    assert (
        over.json()["detail"][0]["msg"] == f"Текст длиннее 100000 символов ({MAX_TEXT_CHARS + 1})"
    )
    assert len(over.content) < 1000
    huge = _post(client, key, {"external_id": "2", "text": "a" * (MAX_BODY_BYTES + 10)})
    assert huge.status_code == 413 and "100 000" in huge.json()["detail"]
    exact = _post(client, key, {"external_id": "3", "text": "я" * MAX_TEXT_CHARS})
    assert exact.status_code == 201
    assert [len(m.text) for m in _messages(seeded_session)] == [MAX_TEXT_CHARS]


def test_html_is_stored_as_is_and_never_served_as_markup(
    client: TestClient, key: str, seeded_session: Session
) -> None:
    response = _post(client, key, {"external_id": XSS, "text": XSS, "author": XSS})
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    [message] = _messages(seeded_session)
    assert (message.text, message.external_id, message.author_name) == (XSS, XSS, XSS)
    bad = _post(client, key, {"external_id": "1", "text": XSS, "extra": XSS})
    assert bad.status_code == 422 and "<script>" not in bad.text


def test_cli_issues_a_key_that_the_api_accepts(
    client: TestClient, seeded_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = seeded_session.get_bind().url.render_as_string(hide_password=False)  # type: ignore[union-attr]
    monkeypatch.setenv("MCU_DATABASE_URL", url)
    monkeypatch.setenv("MCU_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(apikey_app, ["create", "--source", "cli-site"])
        refused = CliRunner().invoke(
            apikey_app, ["create", "--source", "cli-site", "--kind", "pos"]
        )
    finally:
        get_engine(url).dispose()
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    found = re.search(r"^(mcu_[0-9a-f]{8}_\S+)$", result.stdout, re.MULTILINE)
    assert found, result.output
    assert refused.exit_code == 2 and "уже существует с видом portal" in refused.output
    response = _post(client, found.group(1), {"external_id": "cli-1", "text": "Проверка"})
    assert response.status_code == 201
    stored = seeded_session.scalar(select(func.count()).select_from(Message))
    assert stored == 1 and json.loads(response.text)["tracking_number"].startswith("П-")
