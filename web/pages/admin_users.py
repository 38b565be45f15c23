"""`/admin/users` and `/admin/sources`: accounts and roles, source tokens and health."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from core.errors import ConflictError
from core.models import ROLES
from web.auth import hash_password
from web.deps import CSRF, CurrentUser, DbSession, require
from web.pages.admin import admin_page, guarded
from web.pages.common import to_int
from web.repository import accounts as repo
from web.repository import reference

router = APIRouter(include_in_schema=False, dependencies=[require("admin"), CSRF])

MIN_PASSWORD = 8


def _users_ctx(session: DbSession) -> dict[str, object]:
    return {
        "rows": repo.users(session),
        "roles": ROLES,
        "departments": reference.department_choices(session),
        "blocks": reference.block_choices(session, active_only=False),
    }


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request, session: DbSession, user: CurrentUser) -> Response:
    """Accounts with roles, departments and blocks."""
    return admin_page(request, user, "users", **_users_ctx(session))


async def _blocks(request: Request) -> list[str]:
    form = await request.form()
    return [str(v) for v in form.getlist("blocks")]


@router.post("/admin/users")
async def create_user(
    request: Request,
    session: DbSession,
    username: str = Form(""),
    full_name: str = Form(""),
    role: str = Form(""),
    password: str = Form(""),
    department_id: str = Form(""),
) -> Response:
    """Create an account (password of at least 8 characters)."""
    blocks = await _blocks(request)

    def action() -> None:
        if len(password) < MIN_PASSWORD:
            raise ConflictError(f"Пароль должен быть не короче {MIN_PASSWORD} символов")
        repo.create_user(
            session,
            username=username,
            full_name=full_name,
            role=role,
            password_hash=hash_password(password),
            department_id=to_int(department_id),
            blocks=blocks,
        )

    return guarded(session, "/admin/users", action, f"Пользователь «{username.strip()}» создан")


@router.post("/admin/users/{user_id}")
async def update_user(
    request: Request,
    session: DbSession,
    user: CurrentUser,
    user_id: int,
    role: str = Form(""),
    department_id: str = Form(""),
) -> Response:
    """Change role, department and blocks."""
    blocks = await _blocks(request)

    def action() -> None:
        if user_id == user.id and role != "admin":
            raise ConflictError("Нельзя снять роль администратора с самого себя")
        repo.update_user(
            session, user_id=user_id, role=role, department_id=to_int(department_id), blocks=blocks
        )

    return guarded(session, "/admin/users", action, "Пользователь сохранён")


@router.post("/admin/users/{user_id}/active")
def set_active(
    session: DbSession, user: CurrentUser, user_id: int, active: str = Form("")
) -> Response:
    """Deactivate (or reactivate) an account; nobody locks out the last admin or themselves."""

    def action() -> None:
        target = repo.get_user(session, user_id=user_id)
        if active != "1" and target.id == user.id:
            raise ConflictError("Нельзя отключить собственную учётную запись")
        target.active = active == "1"

    return guarded(session, "/admin/users", action, "Готово")


@router.post("/admin/users/{user_id}/password", response_class=HTMLResponse)
def reset_password(
    request: Request, session: DbSession, user: CurrentUser, user_id: int
) -> Response:
    """Set a random temporary password and show it once (never put in a URL or a log)."""
    target = repo.get_user(session, user_id=user_id)
    temporary = secrets.token_urlsafe(9)
    target.password_hash = hash_password(temporary)
    session.flush()
    ctx = _users_ctx(session) | {"temporary": (target.username, temporary)}
    return admin_page(request, user, "users", **ctx)


@router.get("/admin/sources", response_class=HTMLResponse)
def sources_page(request: Request, session: DbSession, user: CurrentUser) -> Response:
    """Sources with health; secrets shown only as «задан» / «не задан»."""
    return admin_page(request, user, "sources", sources=repo.sources(session))


@router.post("/admin/sources/{source_id}/secret")
def set_secret(
    session: DbSession, source_id: int, secret: str = Form(""), clear: str = Form("")
) -> Response:
    """Replace or remove a source's token (write-only: it is never rendered back)."""

    def action() -> None:
        source = repo.get_source(session, source_id=source_id)
        if clear == "1":
            source.secret = None
        elif secret.strip():
            source.secret = secret.strip()[:500]
        else:
            raise ConflictError("Введите новый токен или отметьте «удалить»")

    return guarded(session, "/admin/sources", action, "Токен сохранён")


@router.post("/admin/sources/{source_id}/enabled")
def set_enabled(session: DbSession, source_id: int, enabled: str = Form("")) -> Response:
    """Switch collection from a source on or off."""

    def action() -> None:
        repo.get_source(session, source_id=source_id).enabled = enabled == "1"

    return guarded(session, "/admin/sources", action, "Готово")
