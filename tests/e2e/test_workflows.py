"""Whole workflows in a real browser: triage, answer and resolve, rating download, citizen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from core.db import make_engine, session_scope
from core.models import Department, Incident, User

pytestmark = pytest.mark.e2e
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5d6c1a50000000049454e44ae426082"
)


def _login(page: Any, base: str, username: str) -> list[str]:
    """Sign in with the demo password; returns the list collecting console errors."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "demo")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return errors


def _incident(database_url: str, incident_id: int) -> tuple[str, str, int | None, str | None]:
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        inc = session.get(Incident, incident_id)
        assert inc is not None
        dept = session.get(Department, inc.department_id) if inc.department_id else None
        executor = session.get(User, inc.executor_id) if inc.executor_id else None
        found = (
            inc.block_code,
            inc.status,
            dept.id if dept else None,
            executor.username if executor else None,
        )
    engine.dispose()
    return (found[0], found[1], found[2], found[3])


def test_operator_corrects_the_block_and_assigns(
    page: Any, live_server: Any, e2e_incidents: Any
) -> None:
    errors = _login(page, live_server.url, "operator")
    page.goto(f"{live_server.url}/triage")
    target = e2e_incidents["triage"]
    item = page.locator(f"#qi-{target.id}")
    item.wait_for()
    page.keyboard.press("j")
    assert page.locator(".qi.current").count() == 1
    page.keyboard.press("?")
    assert page.locator("#help").is_visible()
    page.keyboard.press("Escape")
    item.get_by_role("button", name="Жилищно-коммунальное хозяйство 39 %").click()
    page.locator(f"#qi-{target.id} .notice").wait_for()
    assert "исправлен" in page.locator(f"#qi-{target.id} .notice").inner_text()
    item = page.locator(f"#qi-{target.id}")
    item.locator("select[name=department_id]").select_option(
        label="Отдел жилищно-коммунального хозяйства"
    )
    item.locator("select[name=executor_id]").select_option(
        label="Исполнитель: Отдел жилищно-коммунального хозяйства"
    )
    item.get_by_role("button", name="OK").nth(1).click()
    page.locator(f"#qi-{target.id} .notice", has_text=f"{target.number} назначен").wait_for()
    page.screenshot(path=str(ARTIFACTS / "triage-operator.png"))
    block, status, _dept, executor = _incident(live_server.database_url, target.id)
    assert (block, status, executor) == ("housing", "assigned", "executor_gkh")
    assert errors == []


FORMAL = "Ваше обращение принято к сведению, будет рассмотрено в установленном порядке."
GOOD = "Яма будет засыпана щебнем подрядчиком ООО «Дорстрой» до 28.11.2026, мастер Сидоров П. П."


def test_sector_head_answers_and_resolves(page: Any, live_server: Any, e2e_incidents: Any) -> None:
    errors = _login(page, live_server.url, "sector_econ")
    roads = e2e_incidents["roads"]
    page.goto(f"{live_server.url}/incidents/{roads.id}")
    editor = page.locator("[data-answer-editor]")
    editor.locator("textarea").fill(FORMAL)
    editor.get_by_role("button", name="Проверить на отписку").click()
    warning = editor.locator(".warnbox")
    warning.wait_for()
    assert "нет даты или срока" in warning.inner_text()
    editor.locator("textarea").fill(GOOD)
    editor.get_by_role("button", name="Проверить на отписку").click()
    editor.locator(".okbox").wait_for()
    editor.get_by_role("button", name="Опубликовать").click()
    page.locator(".notice", has_text="Ответ опубликован").wait_for()
    page.get_by_role("button", name="Решён").click()
    page.locator(".titlebar .st-resolved").wait_for()
    page.screenshot(path=str(ARTIFACTS / "incident-sector-head.png"), full_page=True)
    assert _incident(live_server.database_url, roads.id)[1] == "resolved"
    assert errors == []


def test_head_opens_the_rating_and_downloads_xlsx(page: Any, live_server: Any) -> None:
    errors = _login(page, live_server.url, "head")
    page.get_by_role("link", name="Рейтинг").click()
    page.locator("h1", has_text="Рейтинг отделов за неделю").wait_for()
    page.screenshot(path=str(ARTIFACTS / "rating-head.png"))
    with page.expect_download() as info:
        page.get_by_role("link", name="Скачать XLSX").click()
    path = info.value.path()
    assert Path(path).read_bytes()[:2] == b"PK"
    assert info.value.suggested_filename.endswith(".xlsx")
    assert errors == []


def test_citizen_reports_a_problem_and_follows_it(
    page: Any, live_server: Any, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.png"
    photo.write_bytes(PNG_1PX)
    page.goto(f"{live_server.url}/report")
    page.get_by_label("Что случилось").fill("Во дворе дома 12 по ул. Советской не горит фонарь")
    page.get_by_label("Где (населённый пункт, улица, дом или ориентир)").fill("Амурзет")
    page.get_by_label("Фото (необязательно, до 5 МБ)").set_input_files(str(photo))
    page.get_by_label("Как с вами связаться (необязательно)").fill("+7 900 000-00-00")
    page.screenshot(path=str(ARTIFACTS / "report-citizen.png"))
    page.get_by_role("button", name="Отправить").click()
    page.wait_for_url("**/track/*")
    number = page.locator("[data-tracking]").inner_text()
    assert len(number) == 32 and "Спасибо" in page.content()
    page.goto(f"{live_server.url}/track")
    page.get_by_label("Номер обращения").fill(number)
    page.get_by_role("button", name="Показать").click()
    page.wait_for_url(f"**/track/{number}")
    text = page.locator("main").inner_text()
    assert "ожидает разбора" in text and "+7 900" not in text
    page.screenshot(path=str(ARTIFACTS / "track-citizen.png"))


def test_executor_is_not_shown_other_departments(
    page: Any, live_server: Any, e2e_incidents: Any
) -> None:
    _login(page, live_server.url, "executor_culture")
    response = page.goto(f"{live_server.url}/incidents/{e2e_incidents['roads'].id}")
    assert response.status == 404
    assert "Не найдено" in page.locator("h1").inner_text()
    with session_scope(make_engine(live_server.database_url)) as session:
        assert (
            session.scalar(select(User.role).where(User.username == "executor_culture"))
            == "executor"
        )
