"""Shared pieces of the integration API: API-key dependency, safe JSON, pepper and zone."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader

from collectors import apikeys
from core.models import Source
from web.deps import DbSession

DEFAULT_TZ = "Asia/Vladivostok"  # the same fallback web.app uses for pages
NOSNIFF = {"X-Content-Type-Options": "nosniff"}
_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Ключ API источника")


class SafeJSONResponse(JSONResponse):
    """UTF-8 JSON with <, > and & escaped: citizen text can never become markup."""

    def __init__(self, content: Any, status_code: int = 200, **kwargs: Any) -> None:
        super().__init__(content, status_code=status_code, **kwargs)
        self.headers.update(NOSNIFF)

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
        return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def pepper(request: Request) -> str:
    """The installation secret that peppers API-key hashes and author pseudonyms."""
    return str(request.app.state.settings.secret_key)


def municipality_tz(request: Request) -> str:
    """The municipality's time zone name for dates shown to clients."""
    explicit = getattr(request.app.state, "tz", None) or request.app.state.settings.timezone
    return str(explicit or DEFAULT_TZ)


def require_key(*kinds: str) -> Any:
    """A dependency yielding the source of a valid X-API-Key whose kind is one of `kinds`."""

    def dependency(
        request: Request, session: DbSession, key: str | None = Depends(_key_header)
    ) -> Source:
        try:
            return apikeys.authenticate(session, key=key, pepper=pepper(request), kinds=kinds)
        except apikeys.ApiKeyError as exc:
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "ApiKey"}) from exc
        except apikeys.ApiKeyForbiddenError as exc:
            raise HTTPException(403, str(exc)) from exc

    checker: Callable[..., Source] = dependency
    return Depends(checker)
