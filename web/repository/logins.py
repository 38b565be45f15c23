"""The sign-in audit: one LoginEvent row per attempt, and the newest ones for /admin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import LoginEvent

LOGIN_OUTCOMES = ("ok", "bad_password", "locked", "csrf")


@dataclass(frozen=True)
class LoginEventRow:
    at: datetime
    username: str
    user_id: int | None
    ip: str | None
    user_agent: str | None
    outcome: str


def record_login(
    session: Session,
    *,
    username: str,
    user_id: int | None,
    ip: str | None,
    user_agent: str | None,
    outcome: str,
    at: datetime,
) -> None:
    """Add the attempt to the request's unit of work (committed with the response)."""
    if outcome not in LOGIN_OUTCOMES:
        raise ValueError(f"unknown login outcome {outcome!r}")
    session.add(
        LoginEvent(
            at=at,
            username=username[:80],
            user_id=user_id,
            ip=ip[:64] if ip else None,
            user_agent=user_agent[:300] if user_agent else None,
            outcome=outcome,
        )
    )


def recent_logins(session: Session, *, limit: int = 50) -> list[LoginEventRow]:
    """The newest sign-in attempts first."""
    stmt = select(
        LoginEvent.at,
        LoginEvent.username,
        LoginEvent.user_id,
        LoginEvent.ip,
        LoginEvent.user_agent,
        LoginEvent.outcome,
    ).order_by(LoginEvent.at.desc(), LoginEvent.id.desc())
    return [LoginEventRow(*row) for row in session.execute(stmt.limit(limit))]
