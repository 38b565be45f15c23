"""Request dependencies: the unit-of-work session and the signed-in user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from core.db import session_factory
from core.models import User
from web.auth import SESSION_USER


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; committed here and nowhere else in the web layer."""
    session = session_factory(request.app.state.engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_session)]


class LoginRequiredError(Exception):
    """Raised for pages when nobody is signed in; the app redirects to /login."""


def current_user(request: Request, session: DbSession) -> User:
    """The signed-in, active user, or a redirect to /login."""
    uid = request.session.get(SESSION_USER)
    user = session.get(User, uid) if uid else None
    if user is None or not user.active:
        raise LoginRequiredError()
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require_roles(*roles: str) -> object:
    """A dependency that lets only the given roles through (403 otherwise)."""

    def check(user: CurrentUser) -> User:
        if user.role not in roles:
            raise HTTPException(status_code=403, detail="Недостаточно прав")
        return user

    return Depends(check)
