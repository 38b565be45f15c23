"""Health, readiness, login with CSRF, and the first dashboard (escaping citizen text)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.users import add_user
from config.settings import Settings
from core.models import Incident
from web.app import create_app

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def client(seeded_session: Session) -> TestClient:
    add_user(seeded_session, username="operator", password="secret-1", role="operator")
    seeded_session.commit()
    settings = Settings(secret_key="test-secret")
    return TestClient(create_app(settings, engine=seeded_session.get_bind()))  # type: ignore[arg-type]


def _csrf(client: TestClient) -> str:
    page = client.get("/login")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, "login form carries a CSRF token"
    return found.group(1)


def _login(client: TestClient, password: str = "secret-1") -> int:
    form = {"username": "operator", "password": password, "csrf": _csrf(client), "next": "/"}
    return client.post("/login", data=form, follow_redirects=False).status_code


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"


def test_dashboard_requires_login(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_wrong_password_is_refused(client: TestClient) -> None:
    assert _login(client, password="wrong") == 400
    assert client.get("/", follow_redirects=False).status_code == 303


def test_login_without_csrf_is_refused(client: TestClient) -> None:
    client.get("/login")
    response = client.post("/login", data={"username": "operator", "password": "secret-1"})
    assert response.status_code == 400
    assert "Форма устарела" in response.text


def test_login_redirect_never_leaves_the_site(client: TestClient) -> None:
    form = {
        "username": "operator",
        "password": "secret-1",
        "csrf": _csrf(client),
        "next": "//evil.example/",
    }
    response = client.post("/login", data=form, follow_redirects=False)
    assert response.headers["location"] == "/"


def test_dashboard_lists_incidents_and_escapes_citizen_text(
    client: TestClient, seeded_session: Session
) -> None:
    received = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    seeded_session.add(
        Incident(
            number="МЦУ-2026-000001",
            block_code="housing",
            title=XSS,
            status="new",
            sla_policy="portal",
            received_at=received,
            due_at=received + timedelta(days=3),
            settlement="Амурзет",
        )
    )
    seeded_session.commit()
    assert _login(client) == 303
    page = client.get("/")
    assert page.status_code == 200
    assert "МЦУ-2026-000001" in page.text and "Жилищно-коммунальное хозяйство" in page.text
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
