"""Password hashing, CSRF tokens, roles and permissions, rate limits and the login audit log."""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request

_hasher = PasswordHasher()

SESSION_USER = "uid"
SESSION_CSRF = "csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"

# Who may do what. Reading incidents is further narrowed by web.deps.incident_scope:
# a sector head sees the blocks of UserBlock, an executor what is assigned to them or
# to their department; the others see every incident.
STAFF = frozenset({"admin", "coordinator", "operator", "sector_head", "executor", "head"})
PERMISSIONS: dict[str, frozenset[str]] = {
    "dashboard": STAFF,
    "incidents.view": STAFF,
    "incidents.act": frozenset({"admin", "operator", "sector_head", "executor"}),
    "incidents.assign": frozenset({"admin", "operator", "sector_head"}),
    "triage": frozenset({"admin", "operator"}),
    "rating": frozenset({"admin", "coordinator", "head", "operator", "sector_head"}),
    "admin": frozenset({"admin"}),
}
ROLE_LABELS = {
    "admin": "администратор",
    "coordinator": "координатор",
    "operator": "оператор",
    "sector_head": "руководитель блока",
    "executor": "исполнитель",
    "head": "глава",
}

audit_log = logging.getLogger("mcu.audit.login")


def hash_password(password: str) -> str:
    """An argon2id hash of the password."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when the password matches the stored hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def can(role: str | None, permission: str) -> bool:
    """Whether the role holds the permission."""
    return role is not None and role in PERMISSIONS.get(permission, frozenset())


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get(SESSION_CSRF)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return str(token)


def csrf_valid(request: Request, submitted: str | None) -> bool:
    """Constant-time check of a submitted CSRF token against the session's."""
    expected = request.session.get(SESSION_CSRF)
    return bool(expected and submitted and hmac.compare_digest(str(expected), submitted))


def client_ip(request: Request) -> str:
    """The peer address (no proxy headers are trusted: put a proxy's own limits in front)."""
    return request.client.host if request.client else "unknown"


class RateLimiter:
    """Sliding-window counter per key, in memory of this process (not shared by workers)."""

    def __init__(
        self, *, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _trim(self, key: str, now: float) -> deque[float]:
        hits = self._hits[key]
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        return hits

    def blocked(self, key: str) -> bool:
        """True when the key has used up its allowance in the window."""
        with self._lock:
            hits = self._trim(key, self._clock())
            if not hits:
                self._hits.pop(key, None)
                return False
            return len(hits) >= self.limit

    def hit(self, key: str) -> None:
        """Count one event for the key."""
        with self._lock:
            now = self._clock()
            self._trim(key, now).append(now)

    def allow(self, key: str) -> bool:
        """Count an event and say whether it is still within the limit."""
        with self._lock:
            now = self._clock()
            hits = self._trim(key, now)
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def reset(self, key: str) -> None:
        """Forget the key (after a successful login)."""
        with self._lock:
            self._hits.pop(key, None)


def login_key(username: str, ip: str) -> str:
    """Rate-limit key of a login attempt: the login (case-folded) and the peer address."""
    return f"{username.strip().casefold()}|{ip}"


def audit_login(*, username: str, ip: str, outcome: str, user_id: int | None = None) -> None:
    """One line per login attempt in the dedicated audit logger."""
    audit_log.info(
        "login outcome=%s username=%r user_id=%s ip=%s",
        outcome,
        username[:80],
        user_id,
        ip,
        extra={"login_outcome": outcome, "login_username": username[:80], "login_ip": ip},
    )
