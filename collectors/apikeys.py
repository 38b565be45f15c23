"""Integration API keys: generation, peppered hashing and authentication of a source.

A key looks like ``mcu_<8 hex prefix>_<secret>``. Only HMAC-SHA256(pepper, key) is stored;
the pepper is the installation's secret key, so a leaked database alone cannot be used to
test guesses offline. Rotating MCU_SECRET_KEY therefore invalidates every API key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from collectors import repository_portal as repo
from core.errors import AppError, PermissionDeniedError
from core.models import Source

KEY_RE = re.compile(r"^mcu_([0-9a-f]{8})_[A-Za-z0-9_-]{20,200}$")
KEY_KINDS = ("portal", "open311", "pos")


class ApiKeyError(AppError):
    """The presented key is missing, malformed, unknown or revoked."""

    status_code = 401


class ApiKeyForbiddenError(PermissionDeniedError):
    """The key is valid but its source may not use this API (wrong kind or disabled)."""


@dataclass(frozen=True, slots=True)
class NewKey:
    key: str  # shown to the admin once, never stored
    prefix: str
    key_hash: str


def hash_key(key: str, *, pepper: str) -> str:
    """HMAC-SHA256 of the key with the installation's pepper, hex encoded."""
    return hmac.new(pepper.encode(), key.encode(), hashlib.sha256).hexdigest()


def generate_key(*, pepper: str) -> NewKey:
    """A fresh random key with its lookup prefix and stored hash."""
    prefix = secrets.token_hex(4)
    key = f"mcu_{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(key=key, prefix=prefix, key_hash=hash_key(key, pepper=pepper))


def key_prefix(key: str) -> str | None:
    """The lookup prefix of a well-formed key, None for anything else."""
    found = KEY_RE.match(key)
    return found.group(1) if found else None


def create_key(session: Session, *, source: Source, pepper: str, now: datetime) -> NewKey:
    """Issue a key for the source; only its hash is persisted."""
    new = generate_key(pepper=pepper)
    repo.add_api_key(
        session, source_id=source.id, prefix=new.prefix, key_hash=new.key_hash, now=now
    )
    return new


def find_source(session: Session, *, key: str | None, pepper: str) -> Source | None:
    """The source owning this active (not revoked) key, or None."""
    prefix = key_prefix((key or "").strip())
    if prefix is None or key is None:
        return None
    wanted = hash_key(key.strip(), pepper=pepper)
    for stored_hash, source in repo.active_keys_with_prefix(session, prefix=prefix):
        # Constant-time comparison: the prefix narrows the rows, never the secret part.
        if hmac.compare_digest(stored_hash, wanted):
            return source
    return None


def authenticate(
    session: Session, *, key: str | None, pepper: str, kinds: tuple[str, ...]
) -> Source:
    """The enabled source of this key if its kind is allowed; raise ApiKeyError otherwise."""
    if not key:
        raise ApiKeyError("Не передан ключ API (заголовок X-API-Key).")
    source = find_source(session, key=key, pepper=pepper)
    if source is None:
        raise ApiKeyError("Ключ API неизвестен или отозван.")
    if source.kind not in kinds:
        allowed = ", ".join(kinds)
        raise ApiKeyForbiddenError(
            f"Ключ источника «{source.name}» (вид {source.kind}) не подходит для этого API; "
            f"нужен ключ источника вида: {allowed}."
        )
    if not source.enabled:
        raise ApiKeyForbiddenError(f"Источник «{source.name}» отключён администратором.")
    return source
