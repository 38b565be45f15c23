"""Helpers shared by the page routers: rendering, redirects, partial responses, form values."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from web.auth import csrf_token
from web.memo import Memo
from web.repository import reference
from web.response_cache import data_version

PER_PAGE = 50
T = TypeVar("T")
API_PREFIXES = ("/api/", "/open311/")


def templates_of(request: Request) -> Jinja2Templates:
    """The application's template set."""
    templates: Jinja2Templates = request.app.state.templates
    return templates


def render(request: Request, name: str, ctx: dict[str, Any], *, status_code: int = 200) -> Response:
    """Render a page or fragment with the CSRF token and the clock added."""
    full = {"csrf": csrf_token(request), "now": datetime.now(UTC), "user": None} | ctx
    return templates_of(request).TemplateResponse(request, name, full, status_code=status_code)


def shared(request: Request, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`, shared by every request that reads the same data version.

    A cacheable request (web.response_cache) knows the version of the data it reads: until
    something is written, any user's request would read the same rows, so what is computed
    from them alone (not from the user: put the scope in `key` when it matters) is kept
    in the process's memo, at most MCU_WEB_CACHE_SECONDS, and requests that miss together
    compute it once (`Memo.shared`). Other requests compute afresh.
    """
    version = data_version(request.scope)
    if version is None:
        return compute()
    memo: Memo = request.app.state.web.memo
    return memo.shared((key, version), compute)


def form_choices(request: Request, session: Session) -> reference.FormChoices:
    """Blocks, departments, executors and settlements for a page's forms.

    Shared by the version of the rows they are read from (`reference.choices_version`):
    one scalar query instead of reading and building the four lists, and a write elsewhere
    (an incident) keeps them. A page the page cache keys by data version asks that query
    once per data version (`shared`), the others on every request. Where there is no such
    version (SQLite, or the memo is off) they are read afresh.
    """

    def compute() -> reference.FormChoices:
        return reference.form_choices(session)

    ctx = request.app.state.web
    if ctx.settings.web_cache_seconds <= 0:
        return compute()

    def by_rows() -> reference.FormChoices:
        version = reference.choices_version(session)
        if version is None:
            return compute()
        memo: Memo = ctx.memo
        return memo.shared(("form_choices_by_rows", version), compute)

    if data_version(request.scope) is not None:
        return shared(request, "form_choices", by_rows)
    return by_rows()


def wants_html(request: Request) -> bool:
    """A browser navigation (not the JSON API, not a script asking for JSON)."""
    if request.url.path.startswith(API_PREFIXES):
        return False
    return "text/html" in request.headers.get("accept", "")


def is_partial(request: Request) -> bool:
    """The page's script asked for an HTML fragment instead of a redirect."""
    return request.headers.get("x-partial") == "1"


def safe_path(target: str | None, default: str = "/") -> str:
    """Only same-site relative paths: never an open redirect to another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def see_other(target: str) -> Response:
    """303 to a same-site path."""
    return RedirectResponse(safe_path(target), status_code=303)


def with_notice(path: str, notice: str) -> str:
    """Append a one-time notice for the next page (shown in a status line)."""
    sep = "&" if "?" in path else "?"
    return f"{path}{sep}{urlencode({'notice': notice[:300]})}"


def to_int(value: Any) -> int | None:
    """An int from a form or query value, None when empty or not a number."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def pages_for(total: int, per_page: int = PER_PAGE) -> int:
    """Number of pages for `total` rows (at least 1)."""
    return max(1, -(-total // per_page))


def query_without(request: Request, *drop: str, **extra: Any) -> str:
    """The current query string without some keys and with others replaced."""
    params = [
        (k, v) for k, v in request.query_params.multi_items() if k not in drop and k not in extra
    ]
    params += [(k, str(v)) for k, v in extra.items() if v not in (None, "")]
    return urlencode(params)
