"""`/admin`: blocks, departments, routing table, SLA policies, calendar exceptions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from alerts import repository as alerts_repo
from core.errors import AppError
from web.deps import CSRF, CurrentUser, DbSession, require
from web.pages.common import render, see_other, to_int, with_notice
from web.repository import admin as repo
from web.repository import logins, reference

router = APIRouter(include_in_schema=False, dependencies=[require("admin"), CSRF])

SECTIONS = (
    ("blocks", "Блоки"),
    ("departments", "Отделы"),
    ("routing", "Маршрутизация"),
    ("sla", "Сроки (SLA)"),
    ("calendar", "Календарь"),
    ("users", "Пользователи"),
    ("sources", "Источники"),
)


def admin_page(request: Request, user: Any, section: str, **ctx: Any) -> Response:
    """Render an admin section with the section menu."""
    return render(
        request,
        f"admin/{section}.html",
        {"user": user, "sections": SECTIONS, "section": section} | ctx,
    )


def guarded(session: Session, back: str, action: Callable[[], object], done: str) -> Response:
    """Run a change; a domain error rolls back and is shown on the page it came from."""
    try:
        action()
        session.flush()
    except AppError as exc:
        session.rollback()
        return see_other(with_notice(back, f"Ошибка: {exc}"))
    return see_other(with_notice(back, done))


def _float(value: str) -> float | None:
    try:
        return float(value.replace(",", ".")) if value.strip() else None
    except ValueError:
        return None


@router.get("/admin", response_class=HTMLResponse)
def admin_index(request: Request, session: DbSession, user: CurrentUser) -> Response:
    """The admin menu, and who has blocked the Telegram bot (they get no alerts)."""
    return admin_page(
        request,
        user,
        "index",
        blocked=alerts_repo.blocked_links(session),
        login_events=logins.recent_logins(session, limit=50),
    )


@router.get("/admin/blocks", response_class=HTMLResponse)
def blocks_page(request: Request, session: DbSession, user: CurrentUser) -> Response:
    """Sector blocks."""
    return admin_page(request, user, "blocks", blocks=repo.blocks(session))


@router.post("/admin/blocks/{code}")
def save_block(
    session: DbSession,
    code: str,
    name: str = Form(""),
    sort_order: str = Form("0"),
    active: str = Form(""),
) -> Response:
    """Rename, reorder or (de)activate a block."""
    return guarded(
        session,
        "/admin/blocks",
        lambda: repo.update_block(
            session, code=code, name=name, sort_order=to_int(sort_order) or 0, active=active == "1"
        ),
        "Блок сохранён",
    )


@router.get("/admin/departments", response_class=HTMLResponse)
def departments_page(request: Request, session: DbSession, user: CurrentUser) -> Response:
    """Departments."""
    return admin_page(request, user, "departments", departments=repo.departments(session))


@router.post("/admin/departments")
def add_department(session: DbSession, code: str = Form(""), name: str = Form("")) -> Response:
    """Add a department."""
    return guarded(
        session,
        "/admin/departments",
        lambda: repo.add_department(session, code=code, name=name),
        "Отдел добавлен",
    )


@router.post("/admin/departments/{dept_id}")
def save_department(
    session: DbSession, dept_id: int, name: str = Form(""), active: str = Form("")
) -> Response:
    """Rename or (de)activate a department."""
    return guarded(
        session,
        "/admin/departments",
        lambda: repo.update_department(session, dept_id=dept_id, name=name, active=active == "1"),
        "Отдел сохранён",
    )


@router.get("/admin/routing", response_class=HTMLResponse)
def routing_page(request: Request, session: DbSession, user: CurrentUser) -> Response:
    """The routing table: block (+ settlement, + street) → department (and executor)."""
    return admin_page(
        request,
        user,
        "routing",
        routes=repo.routes(session),
        blocks=reference.block_choices(session, active_only=False),
        departments=reference.department_choices(session),
        executors=reference.executor_choices(session),
    )


@router.post("/admin/routing")
@router.post("/admin/routing/{rule_id}")
def save_route(
    session: DbSession,
    rule_id: int | None = None,
    block: str = Form(""),
    settlement: str = Form(""),
    street: str = Form(""),
    department_id: str = Form(""),
    executor_id: str = Form(""),
) -> Response:
    """Add or edit a routing rule."""
    return guarded(
        session,
        "/admin/routing",
        lambda: repo.save_route(
            session,
            rule_id=rule_id,
            block=block,
            settlement=settlement,
            street=street,
            department_id=to_int(department_id) or 0,
            executor_id=to_int(executor_id),
        ),
        "Правило сохранено",
    )


@router.post("/admin/routing/{rule_id}/delete")
def delete_route(session: DbSession, rule_id: int) -> Response:
    """Remove a routing rule."""
    return guarded(
        session,
        "/admin/routing",
        lambda: repo.delete_route(session, rule_id=rule_id),
        "Правило удалено",
    )


@router.get("/admin/sla", response_class=HTMLResponse)
def sla_page(request: Request, session: DbSession, user: CurrentUser) -> Response:
    """SLA policies."""
    return admin_page(request, user, "sla", policies=repo.policies(session))


@router.post("/admin/sla/{code}")
def save_policy(
    session: DbSession,
    code: str,
    first_hours: str = Form(""),
    final_working_days: str = Form(""),
    final_calendar_days: str = Form(""),
    extension_days: str = Form(""),
) -> Response:
    """Change the terms of a policy."""
    return guarded(
        session,
        "/admin/sla",
        lambda: repo.update_policy(
            session,
            code=code,
            first_hours=_float(first_hours),
            final_working_days=to_int(final_working_days),
            final_calendar_days=to_int(final_calendar_days),
            extension_days=to_int(extension_days),
        ),
        "Политика сохранена",
    )


@router.get("/admin/calendar", response_class=HTMLResponse)
def calendar_page(
    request: Request, session: DbSession, user: CurrentUser, year: int = 0
) -> Response:
    """Exception days of a year (holidays, working weekends, shortened days)."""
    year = year if 2000 <= year <= 2100 else datetime.now(UTC).year
    days = repo.calendar_days(session, year=year)
    return admin_page(request, user, "calendar", days=days, year=year, kinds=repo.CALENDAR_KINDS)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise AppError("Дата должна быть в виде ГГГГ-ММ-ДД") from exc


@router.post("/admin/calendar")
def add_day(session: DbSession, day: str = Form(""), kind: str = Form("")) -> Response:
    """Add or change an exception day."""
    back = "/admin/calendar"
    return guarded(
        session,
        back,
        lambda: repo.set_calendar_day(session, day=_day(day), kind=kind),
        "День добавлен",
    )


@router.post("/admin/calendar/{day}/delete")
def remove_day(session: DbSession, day: str) -> Response:
    """Remove an exception day."""
    return guarded(
        session,
        "/admin/calendar",
        lambda: repo.remove_calendar_day(session, day=_day(day)),
        "День удалён",
    )
