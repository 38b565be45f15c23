"""Request dependencies: unit of work, the signed-in user, permissions, CSRF and the context."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from config.reference import ReferenceConfig, load_reference
from config.settings import Settings
from core.calendar import WorkCalendar
from core.db import session_factory
from core.models import User
from incidents.intake import IntakeSettings
from rating.scoring import RatingConfig
from web import repository
from web.auth import (
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_USER,
    RateLimiter,
    can,
    csrf_valid,
)
from web.memo import Memo
from web.repository.scope import IncidentScope
from web.response_cache import CACHEABLE_PATHS, data_version

T = TypeVar("T")


@dataclass
class WebContext:
    """What pages need beyond the request: settings, reference config, calendar, limiters."""

    settings: Settings
    config: ReferenceConfig
    tz: str
    calendar: WorkCalendar
    login_limiter: RateLimiter
    report_limiter: RateLimiter
    track_limiter: RateLimiter
    memo: Memo

    @property
    def intake_settings(self) -> IntakeSettings:
        """Intake knobs (for splitting a message into a new incident)."""
        return IntakeSettings.from_config(
            self.config.sla, duplicate_window_hours=float(self.settings.duplicate_window_hours)
        )

    @property
    def rating_config(self) -> RatingConfig:
        """Weights and fairness knobs of config/rating.yaml."""
        rating = self.config.rating
        return RatingConfig(
            volume=rating.weights.volume,
            speed=rating.weights.speed,
            completeness=rating.weights.completeness,
            min_incidents=rating.min_incidents,
            prior_strength=rating.prior_strength,
        )


def build_web_context(settings: Settings) -> WebContext:
    """Load config/ once per application (the calendar comes from calendar.yaml)."""
    config = load_reference(settings.config_dir)
    tz = settings.timezone or config.municipality.municipality.timezone
    return WebContext(
        settings=settings,
        config=config,
        tz=tz,
        calendar=WorkCalendar.from_mapping(config.calendar, tz=tz),
        login_limiter=RateLimiter(limit=5, window_seconds=15 * 60),
        report_limiter=RateLimiter(limit=5, window_seconds=60 * 60),
        track_limiter=RateLimiter(limit=60, window_seconds=60),
        memo=Memo(settings.web_cache_seconds),
    )


async def get_context(request: Request) -> WebContext:
    """The application's WebContext (async: pure, so no trip to the thread pool)."""
    ctx: WebContext = request.app.state.web
    return ctx


Ctx = Annotated[WebContext, Depends(get_context)]


def _sessionmaker(state: Any) -> sessionmaker[Session]:
    """The application's session factory, made once (not once per request)."""
    factory: sessionmaker[Session] | None = getattr(state, "sessions", None)
    if factory is None:
        factory = state.sessions = session_factory(state.engine)
    return factory


def _finish(session: Session, *, ok: bool) -> None:
    try:
        if ok:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


def _reading_sessionmaker(state: Any) -> sessionmaker[Session]:
    """Sessions whose connections autocommit: for pages that only read."""
    factory: sessionmaker[Session] | None = getattr(state, "reading_sessions", None)
    if factory is None:
        engine = state.engine.execution_options(isolation_level="AUTOCOMMIT")
        factory = state.reading_sessions = session_factory(engine)
    return factory


def reads_only(scope: Any) -> bool:
    """Whether the request only reads: a GET of a page the page cache may keep (those pages
    only read), whether or not the cache is on for it (SQLite, or the cache off)."""
    return scope["method"] == "GET" and CACHEABLE_PATHS.match(scope["path"]) is not None


async def shared_async(request: Request, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` in the thread pool, shared by the requests of one data version
    (web.response_cache): a value already computed for it costs no trip there at all.
    Without a data version (SQLite, other pages) it is computed for this request alone."""
    version = data_version(request.scope)
    if version is None:
        return await run_in_threadpool(compute)
    memo: Memo = request.app.state.web.memo
    return await memo.shared_async((key, version), compute)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request; committed here and nowhere else in the web layer.

    Opening a session does no I/O (the connection is taken at the first query), so only
    the commit and close go to the thread pool, in one trip, and not at all when the
    request never touched the database.

    A request that only reads (`reads_only`: a page the page cache may keep) runs its
    statements in autocommit, without the BEGIN and COMMIT round trips and the thread-pool
    trip of the commit (each read statement of READ COMMITTED sees its own snapshot either
    way), and its session is closed here, unflushed.
    """
    if reads_only(request.scope):
        reading = _reading_sessionmaker(request.app.state)()
        try:
            yield reading
        finally:
            reading.close()
        return
    session = _sessionmaker(request.app.state)()
    try:
        yield session
    except BaseException:
        await _end(session, ok=False)
        raise
    await _end(session, ok=True)


async def _end(session: Session, *, ok: bool) -> None:
    if session.in_transaction():
        await run_in_threadpool(_finish, session, ok=ok)
    else:
        session.close()


# scope="function": the commit runs when the handler returns, before the answer is sent.
# With FastAPI's default ("request") it ran after the answer went out, so a browser
# following a redirect after a POST could read before the commit and miss what it had just
# written (seen: /report → /track/{number} answered 404 under load in the e2e test).
DbSession = Annotated[Session, Depends(get_session, scope="function")]


class LoginRequiredError(Exception):
    """Raised for pages when nobody is signed in; the app redirects to /login."""


# Built once: Session.get() builds and keys its statement anew on every call, and every
# signed-in request runs this one. Never remembered beyond a data version (current_user),
# so a deactivation or a new role takes effect on the next request.
_USER_BY_ID = select(User).where(User.id == bindparam("uid"))


def _read_user(session: Session, uid: int) -> User | None:
    return session.scalars(_USER_BY_ID, {"uid": uid}).first()


def _read_shared_user(session: Session, uid: int) -> User | None:
    """The user, detached at once: requests of other sessions will read the same object."""
    user = _read_user(session, uid)
    if user is not None:
        session.expunge(user)
    return user


async def current_user(request: Request, session: DbSession) -> User:
    """The signed-in, active user, or a redirect to /login.

    Read afresh on every request. A request keyed by a data version (web.response_cache)
    reads it once per version and user: the row cannot have changed while the version
    holds (any commit is a new version), so the requests of one version share what the
    first one read, without a query or a trip to the thread pool. Such requests only read
    (GET pages), and the object is only ever read from.
    """
    uid = request.session.get(SESSION_USER)
    if not isinstance(uid, int):
        raise LoginRequiredError()
    version = data_version(request.scope)
    if version is None:
        user = await run_in_threadpool(_read_user, session, uid)
    else:
        memo: Memo = request.app.state.web.memo
        user = await memo.shared_async(
            ("user", uid, version), lambda: _read_shared_user(session, uid)
        )
    if user is None or not user.active:
        raise LoginRequiredError()
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require(permission: str) -> Any:
    """A dependency that lets only roles holding `permission` through (403 otherwise)."""

    async def check(user: CurrentUser) -> User:
        if not can(user.role, permission):
            raise HTTPException(status_code=403, detail="Недостаточно прав")
        return user

    return Depends(check)


def require_roles(*roles: str) -> Any:
    """A dependency that lets only the given roles through (403 otherwise)."""

    async def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise HTTPException(status_code=403, detail="Недостаточно прав")
        return user

    return Depends(check)


async def incident_scope(request: Request, session: DbSession, user: CurrentUser) -> IncidentScope:
    """Which incidents the user may see: all, own blocks, or own/department's."""
    if user.role == "sector_head":

        def read() -> tuple[str, ...]:
            return tuple(repository.user_blocks(session, user_id=user.id))

        # As the user: unchanged while the data version holds.
        return IncidentScope(blocks=await shared_async(request, ("user_blocks", user.id), read))
    if user.role == "executor":
        return IncidentScope(executor_id=user.id, department_id=user.department_id, own_only=True)
    return IncidentScope()


Scope = Annotated[IncidentScope, Depends(incident_scope)]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def verify_csrf(request: Request) -> None:
    """Reject a state-changing request whose `csrf` field or X-CSRF-Token header is wrong."""
    if request.method in _SAFE_METHODS:
        return
    submitted = request.headers.get(CSRF_HEADER)
    if not submitted:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            submitted = value if isinstance(value, str) else None
    if not csrf_valid(request, submitted):
        raise HTTPException(status_code=403, detail="Форма устарела: обновите страницу")


CSRF = Depends(verify_csrf)
