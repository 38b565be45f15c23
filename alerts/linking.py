"""Linking a staff account to a Telegram chat: one-time codes from the web profile, or the CLI.

The web profile shows a deep link `https://t.me/<bot>?start=<code>`; Telegram sends
`/start <code>` to the bot, which calls `complete_link`. A chat belongs to one account at a
time: linking it to another account deactivates the old link. Functions flush, callers commit.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from alerts import repository as repo
from core.errors import NotFoundError
from core.models import TelegramLink, User

CODE_TTL = timedelta(minutes=15)
# 16 random bytes → 22 URL-safe characters: fits /start payloads (≤ 64, [A-Za-z0-9_-]).
CODE_BYTES = 16


def deep_link(bot_username: str, code: str) -> str:
    """The t.me link that opens the bot with `/start <code>`."""
    return f"https://t.me/{bot_username.lstrip('@')}?start={code}"


def _link_row(session: Session, user: User) -> TelegramLink:
    link = repo.link_of(session, user_id=user.id)
    if link is None:
        link = TelegramLink(user_id=user.id, active=False)
        session.add(link)
    return link


def create_link_code(session: Session, *, user: User, now: datetime) -> str:
    """A fresh one-time code for `user`, valid 15 minutes (replaces any earlier code)."""
    link = _link_row(session, user)
    link.link_code = secrets.token_urlsafe(CODE_BYTES)
    link.code_expires_at = now + CODE_TTL
    session.flush()
    return link.link_code


def _attach(session: Session, link: TelegramLink, *, chat_id: int, now: datetime) -> None:
    for other in repo.active_links_of_chat(session, chat_id=chat_id):
        if other.user_id != link.user_id:
            other.active = False
    link.chat_id = chat_id
    link.active = True
    link.linked_at = now
    link.blocked_at = None
    link.link_code = None
    link.code_expires_at = None
    session.flush()


def complete_link(session: Session, *, code: str, chat_id: int, now: datetime) -> User | None:
    """`/start CODE`: link the code's account to the chat; None if the code is unknown or old."""
    code = code.strip()
    if not code:
        return None
    link = repo.link_by_code(session, code=code)
    if link is None or link.code_expires_at is None or link.code_expires_at <= now:
        return None
    user = session.get(User, link.user_id)
    if user is None or not user.active:
        return None
    _attach(session, link, chat_id=chat_id, now=now)
    return user


def link_directly(session: Session, *, username: str, chat_id: int, now: datetime) -> User:
    """Link without a code (administrator's CLI); raise NotFoundError for an unknown login."""
    user = repo.user_by_username(session, username)
    if user is None:
        raise NotFoundError(f"нет пользователя {username!r}")
    _attach(session, _link_row(session, user), chat_id=chat_id, now=now)
    return user


def unlink(session: Session, *, user: User) -> bool:
    """Stop delivering to the user's chat; False when there was no active link."""
    link = repo.link_of(session, user_id=user.id)
    if link is None or not link.active:
        return False
    link.active = False
    link.chat_id = None
    session.flush()
    return True
