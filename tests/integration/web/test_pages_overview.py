"""Dashboard, rating (page and XLSX/PDF) and the admin pages."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from core.models import CalendarDay, RoutingRule, SlaPolicy, Source, User
from tests.integration.web.conftest import Web


def test_dashboard_grid_trend_map_and_recent(web: Web) -> None:
    web.login("coordinator")
    page = web.client.get("/").text
    assert 'class="blocks grid"' in page
    assert 'aria-label="Инцидентов в день за 14 дней"' in page
    assert "Амурзет (" in page  # map label with open incidents
    for key in ("housing", "roads", "social", "queue"):
        assert web.world.incidents[key].number in page
    assert "Администрирование" not in page and "Разбор" not in page


def test_dashboard_counts_follow_the_scope(web: Web) -> None:
    web.login("roads_head")
    page = web.client.get("/").text
    assert web.world.incidents["roads"].number in page
    assert web.world.incidents["housing"].number not in page
    assert "сообщений получено" not in page


def test_rating_page_and_downloads(web: Web) -> None:
    web.login("head")
    page = web.client.get("/rating")
    assert page.status_code == 200 and "Рейтинг отделов за неделю" in page.text
    week = re.search(r'href="/rating/(\d{4}-W\d{2})\.xlsx"', page.text)
    assert week
    xlsx = web.client.get(f"/rating/{week.group(1)}.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert "attachment" in xlsx.headers["content-disposition"]
    pdf = web.client.get(f"/rating/{week.group(1)}.pdf")
    assert pdf.content[:5] == b"%PDF-"
    assert web.client.get("/rating?week=2026-W99").status_code == 404
    assert web.client.get("/rating/2099-W01.xlsx").status_code == 404
    assert web.client.get(f"/rating/{week.group(1)}.exe").status_code == 404


def test_admin_creates_deactivates_and_resets_a_user(web: Web) -> None:
    web.login("admin")
    body = {
        "username": "new_head",
        "full_name": "Новый руководитель",
        "role": "sector_head",
        "password": "long-password-1",
        "blocks": ["roads", "energy"],
    }
    assert web.post("/admin/users", body).status_code == 303
    session = web.world.session
    user = session.scalar(select(User).where(User.username == "new_head"))
    assert user is not None and user.role == "sector_head"
    reset = web.post(f"/admin/users/{user.id}/password")
    temporary = re.search(r'<code class="secret">([^<]+)</code>', reset.text)
    assert temporary
    web.post(f"/admin/users/{user.id}/active", {"active": "0"})
    session.expire_all()
    assert session.get(User, user.id).active is False  # type: ignore[union-attr]
    web.login("admin")
    self_lock = web.post(f"/admin/users/{web.world.users['admin'].id}/active", {"active": "0"})
    assert "Ошибка" in web.client.get(self_lock.headers["location"]).text


def test_source_secret_is_write_only(web: Web) -> None:
    web.login("admin")
    source = web.world.source
    assert source is not None
    assert "не задан" in web.client.get("/admin/sources").text
    web.post(f"/admin/sources/{source.id}/secret", {"secret": "vk1.a.SECRET-TOKEN-123"})
    page = web.client.get("/admin/sources").text
    assert "SECRET-TOKEN-123" not in page and "<b>задан</b>" in page
    web.world.session.expire_all()
    assert web.world.session.get(Source, source.id).secret == "vk1.a.SECRET-TOKEN-123"  # type: ignore[union-attr]


def test_admin_edits_routing_sla_and_calendar(web: Web) -> None:
    web.login("admin")
    session = web.world.session
    dept = session.scalar(select(RoutingRule.department_id).limit(1))
    body = {"block": "property", "settlement": "Амурзет", "department_id": dept}
    web.post("/admin/routing", body)
    rule = session.scalar(select(RoutingRule).where(RoutingRule.block_code == "property"))
    assert rule is not None and rule.settlement == "Амурзет"
    rule_id = rule.id
    web.post(f"/admin/routing/{rule_id}/delete")
    session.expire_all()
    assert session.scalar(select(RoutingRule.id).where(RoutingRule.id == rule_id)) is None
    web.post("/admin/sla/portal", {"final_working_days": "8"})
    session.expire_all()
    assert session.get(SlaPolicy, "portal").final_answer_working_days == 8  # type: ignore[union-attr]
    web.post("/admin/calendar", {"day": "2026-12-30", "kind": "holiday"})
    assert session.get(CalendarDay, date(2026, 12, 30)) is not None
    web.post("/admin/calendar/2026-12-30/delete")
    session.expire_all()
    assert session.get(CalendarDay, date(2026, 12, 30)) is None
