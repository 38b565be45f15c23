"""A newcomer signs in with a demo account and sees the dashboard, in a real browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from core.db import make_engine, session_scope
from core.models import Incident

pytestmark = pytest.mark.e2e
ARTIFACTS_DIR = "test-artifacts"
PAYLOAD = '<img src=x onerror="window.__xss=1">Прорыв трубы <script>window.__xss=2</script>'


def _add_incident(database_url: str) -> None:
    engine = make_engine(database_url)
    received = datetime.now(UTC) - timedelta(hours=2)
    with session_scope(engine) as session:
        session.add(
            Incident(
                number="МЦУ-2026-009999",
                block_code="housing",
                title=PAYLOAD,
                status="assigned",
                sla_policy="social_normal",
                received_at=received,
                due_at=received + timedelta(hours=30),
                settlement="Амурзет",
                urgent=True,
            )
        )
    engine.dispose()


def _login(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/")
    assert "/login" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_wrong_password_shows_a_russian_error(page: Any, live_server: Any) -> None:
    _login(page, live_server.url, "operator", "not-demo")
    assert page.locator("[role=alert]").inner_text() == "Неверный логин или пароль."


def test_operator_sees_incidents_and_citizen_html_stays_text(page: Any, live_server: Any) -> None:
    _add_incident(live_server.database_url)
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    _login(page, live_server.url, "operator", "demo")
    page.wait_for_selector("h1:has-text('Сводка')")
    row = page.locator("tr", has_text="МЦУ-2026-009999")
    assert row.count() == 1
    assert "Прорыв трубы" in row.inner_text()
    assert "<script>" in row.inner_text()  # shown as text, not run
    assert page.evaluate("window.__xss === undefined")
    assert dialogs == []
    assert "Жилищно-коммунальное хозяйство" in page.locator("table.blocks").inner_text()
    page.screenshot(path=f"{ARTIFACTS_DIR}/dashboard-operator.png", full_page=True)
    page.click("text=Выйти")
    page.wait_for_url("**/login")
