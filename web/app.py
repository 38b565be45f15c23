"""The FastAPI application: health, login, the first dashboard and the API."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.middleware.sessions import SessionMiddleware

from config.settings import Settings
from core import migrate
from core.db import check_connection, get_engine
from core.errors import AppError, DatabaseUnavailableError
from web import repository
from web.auth import SESSION_USER, csrf_token, csrf_valid, verify_password
from web.deps import CurrentUser, DbSession, LoginRequiredError
from web.formatting import register_filters

WEB_DIR = Path(__file__).resolve().parent


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """Build the web application for these settings."""
    app = FastAPI(title="МЦУ — центр управления муниципальным образованием", version="0.1.0")
    app.state.settings = settings
    app.state.engine = engine or get_engine(settings.database_url)
    templates = Jinja2Templates(directory=WEB_DIR / "templates")
    register_filters(templates.env, tz=settings.timezone or "Asia/Vladivostok")
    app.state.templates = templates
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="mcu_session",
        same_site="lax",
        https_only=settings.base_url.startswith("https://"),
        max_age=12 * 3600,
    )
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    _add_handlers(app)
    _add_health(app)
    _add_pages(app, templates)
    return app


def _add_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequiredError)
    async def to_login(request: Request, _exc: LoginRequiredError) -> Response:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(AppError)
    async def app_error(_request: Request, exc: AppError) -> Response:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)


def _add_health(app: FastAPI) -> None:
    @app.get("/healthz", tags=["служебное"])
    def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["служебное"])
    def readyz(request: Request) -> Response:
        """The database is reachable and migrated to the newest revision."""
        engine = request.app.state.engine
        try:
            check_connection(engine)
        except DatabaseUnavailableError as exc:
            return JSONResponse({"status": "error", "database": str(exc)}, status_code=503)
        current, head = migrate.current_revision(engine), migrate.head_revision()
        body: dict[str, Any] = {"status": "ok", "database": "ok", "migration": current}
        if current != head:
            body |= {"status": "error", "migration_expected": head}
            return JSONResponse(body, status_code=503)
        return JSONResponse(body)


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths: never an open redirect to another host.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def _add_pages(app: FastAPI, templates: Jinja2Templates) -> None:
    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, next: str = "/") -> Response:
        ctx = {"next": _safe_next(next), "error": None, "csrf": csrf_token(request)}
        return templates.TemplateResponse(request, "login.html", ctx)

    @app.post("/login", include_in_schema=False)
    def login(
        request: Request,
        session: DbSession,
        username: str = Form(""),
        password: str = Form(""),
        csrf: str = Form(""),
        next: str = Form("/"),
    ) -> Response:
        error = None
        user = repository.user_by_username(session, username=username.strip())
        if not csrf_valid(request, csrf):
            error = "Форма устарела, попробуйте ещё раз."
        elif user is None or not user.active or not verify_password(user.password_hash, password):
            error = "Неверный логин или пароль."
        if error or user is None:
            ctx = {"next": _safe_next(next), "error": error, "csrf": csrf_token(request)}
            return templates.TemplateResponse(request, "login.html", ctx, status_code=400)
        request.session.clear()
        request.session[SESSION_USER] = user.id
        return RedirectResponse(_safe_next(next), status_code=303)

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf: str = Form("")) -> Response:
        if csrf_valid(request, csrf):
            request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(
        request: Request, session: DbSession, user: CurrentUser, page: int = 1
    ) -> Response:
        page = max(page, 1)
        per_page = 50
        now = datetime.now(UTC)
        total = repository.count_incidents(session)
        ctx = {
            "user": user,
            "csrf": csrf_token(request),
            "now": now,
            "incidents": repository.recent_incidents(
                session, limit=per_page, offset=(page - 1) * per_page
            ),
            "blocks": repository.counts_by_block(session),
            "overdue": repository.overdue_now(session, now=now),
            "total": total,
            "messages": repository.messages_total(session),
            "page": page,
            "pages": max(1, -(-total // per_page)),
        }
        return templates.TemplateResponse(request, "dashboard.html", ctx)
