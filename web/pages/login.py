"""Sign in (CSRF, argon2, per-login+IP rate limit, audit log and LoginEvent rows), sign out."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from web import repository
from web.auth import (
    SESSION_USER,
    audit_login,
    client_ip,
    csrf_token,
    csrf_valid,
    login_key,
    verify_password,
)
from web.deps import Ctx, DbSession
from web.pages.common import render, safe_path
from web.repository import logins

router = APIRouter(include_in_schema=False)

TOO_MANY = "Слишком много неудачных попыток входа. Повторите через 15 минут."
WRONG = "Неверный логин или пароль."


def _form(request: Request, next_path: str, error: str | None, status: int) -> Response:
    ctx = {"next": safe_path(next_path), "error": error}
    return render(request, "login.html", ctx, status_code=status)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form."""
    return _form(request, next, None, 200)


@router.post("/login")
def login(
    request: Request,
    session: DbSession,
    ctx: Ctx,
    username: str = Form(""),
    password: str = Form(""),
    csrf: str = Form(""),
    next: str = Form("/"),
) -> Response:
    """Check the form token, the rate limit and the password; start a fresh session."""
    username, ip = username.strip()[:80], client_ip(request)
    key = login_key(username, ip)

    def audit(outcome: str, *, user_id: int | None = None, logged: str | None = None) -> None:
        audit_login(username=username, ip=ip, outcome=logged or outcome, user_id=user_id)
        logins.record_login(
            session,
            username=username,
            user_id=user_id,
            ip=ip,
            user_agent=request.headers.get("user-agent"),
            outcome=outcome,
            at=datetime.now(UTC),
        )

    if not csrf_valid(request, csrf):
        audit("csrf")
        return _form(request, next, "Форма устарела, попробуйте ещё раз.", 400)
    if ctx.login_limiter.blocked(key):
        audit("locked", logged="rate_limited")
        return _form(request, next, TOO_MANY, 429)
    user = repository.user_by_username(session, username=username)
    if user is None or not user.active or not verify_password(user.password_hash, password):
        ctx.login_limiter.hit(key)
        logged = "unknown_user" if user is None else ("inactive" if not user.active else "bad")
        audit("bad_password", user_id=user.id if user else None, logged=logged)
        return _form(request, next, WRONG, 400)
    ctx.login_limiter.reset(key)
    audit("ok", user_id=user.id)
    request.session.clear()
    request.session[SESSION_USER] = user.id
    csrf_token(request)
    return RedirectResponse(safe_path(next), status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    """End the session (only with the session's own form token)."""
    if csrf_valid(request, csrf):
        request.session.clear()
    return RedirectResponse("/login", status_code=303)
