"""The FastAPI application: health, login, staff pages, public pages and the incidents API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config.settings import Settings
from core import migrate
from core.db import check_connection, get_engine, session_factory
from core.errors import AppError, DatabaseUnavailableError
from core.models import User
from web import api_incidents, api_status
from web.api import api_router
from web.auth import SESSION_USER, csrf_token
from web.deps import LoginRequiredError, build_web_context
from web.formatting import register_filters
from web.limits import InFlightLimit
from web.pages import (
    admin,
    admin_users,
    dashboard,
    incident,
    incident_answers,
    lists,
    login,
    profile,
    public,
    rating,
    triage,
    triage_noise,
)
from web.pages.common import API_PREFIXES, wants_html
from web.response_cache import ResponseCache, SnapshotVersion

WEB_DIR = Path(__file__).resolve().parent
ROUTERS = (
    login.router,
    dashboard.router,
    triage_noise.router,
    triage.router,
    lists.router,
    incident.router,
    incident_answers.router,
    rating.router,
    admin.router,
    admin_users.router,
    profile.router,
    public.router,
    api_incidents.router,
    api_status.router,
    api_router,
)
ERROR_TEXT = {
    403: "Недостаточно прав для этого действия.",
    404: "Страница или объект не найдены.",
    405: "Такой запрос здесь не поддерживается.",
    429: "Слишком много запросов. Подождите и попробуйте снова.",
}
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]
CSP = (
    b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    b"object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


class SecurityHeaders:
    """Adds nosniff, no framing and (outside the API docs) a strict CSP to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"].startswith(("/docs", "/redoc"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + SECURITY_HEADERS
                if not docs:
                    headers.append((b"content-security-policy", CSP))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuses bodies declared larger than the limit of a path before anything parses them."""

    def __init__(self, app: ASGIApp, *, limits: dict[str, int]) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.limits.get(scope["path"]) if scope["type"] == "http" else None
        if limit is not None:
            declared = dict(scope.get("headers", [])).get(b"content-length", b"0")
            if not declared.isdigit() or int(declared) > limit:
                response = PlainTextResponse("Слишком большой запрос", status_code=413)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(settings: Settings, *, engine: Engine | None = None) -> FastAPI:
    """Build the web application for these settings."""
    app = FastAPI(title="МЦУ — центр управления муниципальным образованием", version="0.1.0")
    app.state.settings = settings
    app.state.engine = engine or get_engine(settings.database_url)
    app.state.web = build_web_context(settings)
    app.state.tz = app.state.web.tz
    templates = Jinja2Templates(directory=WEB_DIR / "templates")
    templates.env.auto_reload = False  # no stat() of every template on every render
    register_filters(templates.env, tz=app.state.web.tz)
    app.state.templates = templates
    app.add_middleware(InFlightLimit)
    _add_page_cache(app, settings)
    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="mcu_session",
        same_site="lax",
        https_only=settings.base_url.startswith("https://"),
        max_age=12 * 3600,
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, limits={"/report": public.MAX_PHOTO_BYTES + 256 * 1024})
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    _add_handlers(app, templates)
    _add_health(app)
    for router in ROUTERS:
        app.include_router(router)
    return app


def _add_page_cache(app: FastAPI, settings: Settings) -> None:
    """Stored GET pages (web.response_cache) on PostgreSQL; SQLite has no data version."""
    engine: Engine = app.state.engine
    seconds, megabytes = settings.web_cache_seconds, settings.web_page_cache_mb
    if engine.dialect.name != "postgresql" or seconds <= 0 or megabytes <= 0:
        return
    version = SnapshotVersion(engine)
    app.add_middleware(
        ResponseCache,
        version=version.current,
        close=version.aclose,
        seconds=seconds,
        max_bytes=int(megabytes * 2**20),
    )


def _signed_in(request: Request) -> User | None:
    """The signed-in user for the error page's navigation (None for visitors)."""
    uid = request.session.get(SESSION_USER) if "session" in request.scope else None
    if not isinstance(uid, int):
        return None
    with session_factory(request.app.state.engine)() as session:
        user = session.get(User, uid)
        return user if user is not None and user.active else None


def _error_page(request: Request, templates: Jinja2Templates, status: int, text: str) -> Response:
    ctx = {"status": status, "text": text, "user": _signed_in(request), "csrf": csrf_token(request)}
    return templates.TemplateResponse(request, "error.html", ctx, status_code=status)


def _add_handlers(app: FastAPI, templates: Jinja2Templates) -> None:
    @app.exception_handler(LoginRequiredError)
    async def to_login(request: Request, _exc: LoginRequiredError) -> Response:
        if request.url.path.startswith(API_PREFIXES):
            return JSONResponse({"detail": "Требуется вход"}, status_code=401)
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(AppError)
    async def app_error(request: Request, exc: AppError) -> Response:
        if wants_html(request):
            return _error_page(request, templates, exc.status_code, str(exc))
        return JSONResponse({"detail": str(exc)}, status_code=exc.status_code)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if wants_html(request) and exc.status_code in ERROR_TEXT:
            text = exc.detail if isinstance(exc.detail, str) else ERROR_TEXT[exc.status_code]
            if exc.status_code in (404, 405):
                text = ERROR_TEXT[exc.status_code]
            return _error_page(request, templates, exc.status_code, text)
        return await http_exception_handler(request, exc)


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
