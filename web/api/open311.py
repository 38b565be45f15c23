"""Open311 GeoReport v2 at /open311/v2/ (XML and JSON), discovery at /open311/discovery."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from collectors import apikeys, open311
from collectors import repository_portal as repo
from collectors.open311 import Open311Error
from collectors.open311_render import render
from collectors.repository import record_success, store_messages
from core.models import Source
from web.api.common import NOSNIFF, municipality_tz, pepper
from web.deps import DbSession

router = APIRouter(prefix="/open311", tags=["Open311 GeoReport v2"])
CHANGESET = "2026-01-01T00:00:00Z"  # bump when the service list semantics change
MAX_FORM_BYTES = 64 * 1024  # a 4,000-character description is ~24 KB percent-encoded
FormData = dict[str, list[str]] | Open311Error


def _reply(fmt: str, root: str, produce: Callable[[], Any]) -> Response:
    """Run `produce` and render its data; Open311Error becomes the spec's error list."""
    shown = fmt if fmt in open311.FORMATS else "xml"  # XML is the spec's required format
    try:
        if fmt not in open311.FORMATS:
            raise Open311Error(
                404, (404, f"Формат «{fmt[:20]}» не поддерживается: .xml или .json.")
            )
        body, media = render(fmt, root, produce())
        status = 200
    except Open311Error as exc:
        body, media = render(shown, "errors", exc.errors)
        status = exc.status
    return Response(body, status_code=status, media_type=media, headers=NOSNIFF)


def _services(session: Session) -> dict[str, str]:
    return dict(repo.block_names(session, active_only=True))


def _all_names(session: Session) -> dict[str, str]:
    # Inactive blocks still name the requests filed under them earlier.
    return dict(repo.block_names(session))


@router.get("/discovery.{fmt}", summary="Service Discovery")
def get_discovery(request: Request, fmt: str) -> Response:
    """Where the GeoReport v2 endpoint lives and which formats it speaks."""
    base = str(request.app.state.settings.base_url)
    return _reply(fmt, "discovery", lambda: open311.discovery(base_url=base, changeset=CHANGESET))


@router.get("/v2/services.{fmt}", summary="GET Service List")
def get_services(session: DbSession, fmt: str) -> Response:
    """One service per active block; none needs extra attributes."""
    return _reply(fmt, "services", lambda: open311.service_list(list(_services(session).items())))


@router.get("/v2/services/{code}.{fmt}", summary="GET Service Definition")
def get_service_definition(session: DbSession, code: str, fmt: str) -> Response:
    """A definition without attributes for a known code (metadata=false), 404 otherwise."""

    def produce() -> dict[str, Any]:
        if code not in _services(session):
            raise Open311Error(404, (404, f"Услуга service_code={code[:40]} не найдена."))
        return open311.service_definition(code)

    return _reply(fmt, "service_definition", produce)


async def read_form(request: Request) -> FormData:
    """The urlencoded (or multipart) form as lists; an Open311Error if it cannot be read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        return Open311Error(400, (413, "Запрос слишком большой (описание — до 4000 символов)."))
    try:
        form = await request.form()
    except StarletteHTTPException as exc:  # malformed multipart
        return Open311Error(400, (400, f"Не удалось разобрать форму запроса: {exc.detail}"[:300]))
    return {key: [str(v) for v in form.getlist(key)] for key in form}


def _source(session: Session, request: Request, form: dict[str, list[str]]) -> Source:
    values = form.get("api_key") or []
    key = values[-1] if values else None
    try:
        return apikeys.authenticate(session, key=key, pepper=pepper(request), kinds=("open311",))
    except (apikeys.ApiKeyError, apikeys.ApiKeyForbiddenError) as exc:
        raise Open311Error(403, (403, f"Неверный api_key: {exc}")) from exc


def _create(session: Session, request: Request, form: FormData) -> list[dict[str, Any]]:
    if isinstance(form, Open311Error):
        raise form
    source = _source(session, request, form)
    services = _services(session)
    sub = open311.parse_submission(form, services=services)
    now, token = datetime.now(UTC), open311.new_token()
    raw = open311.to_raw(
        sub,
        source_name=source.name,
        token=token,
        service_name=services[sub.service_code],
        now=now,
        secret=pepper(request),
    )
    stored, _ = store_messages(session, source=source, messages=[raw], now=now)
    record_success(session, source=source, cursor=source.cursor, fetched=1, stored=stored, now=now)
    message_id = repo.message_id_by_external_id(
        session, source_id=source.id, external_id=raw.external_id
    )
    notice = open311.PENDING_NOTICE
    return [{"service_request_id": str(message_id), "service_notice": notice, "account_id": None}]


@router.post("/v2/requests.{fmt}", summary="POST Service Request")
def post_request(
    request: Request,
    session: DbSession,
    fmt: str,
    form: Annotated[FormData, Depends(read_form)],
) -> Response:
    """Create a request (type realtime: the service_request_id is returned at once)."""
    return _reply(fmt, "service_requests", lambda: _create(session, request, form))


def _query(session: Session, params: dict[str, str | None]) -> list[open311.RequestView]:
    if params["service_request_id"]:
        # The spec: a list of ids overrides every other argument.
        ids = open311.parse_ids(params["service_request_id"])
        return repo.open311_requests(session, ids=ids)
    window = open311.request_window(
        start=params["start_date"], end=params["end_date"], now=datetime.now(UTC)
    )
    return repo.open311_requests(
        session,
        codes=open311.parse_codes(params["service_code"] or ""),
        statuses=open311.parse_statuses(params["status"]) if params["status"] else (),
        window=window,
        limit=open311.MAX_RESULTS,
    )


@router.get("/v2/requests.{fmt}", summary="GET Service Requests")
def get_requests(
    request: Request,
    session: DbSession,
    fmt: str,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
) -> Response:
    """Requests received through Open311, newest first (at most 90 days, 1000 requests)."""
    params = {
        "service_request_id": service_request_id,
        "service_code": service_code,
        "start_date": start_date,
        "end_date": end_date,
        "status": status,
    }
    tz = ZoneInfo(municipality_tz(request))

    def produce() -> list[dict[str, Any]]:
        names = _all_names(session)
        views = _query(session, params)
        return [open311.request_dict(v, services=names, tz=tz) for v in views]

    return _reply(fmt, "service_requests", produce)


@router.get("/v2/requests/{request_id}.{fmt}", summary="GET Service Request")
def get_request(request: Request, session: DbSession, request_id: str, fmt: str) -> Response:
    """One request; it answers before the incident exists and follows it afterwards."""
    tz = ZoneInfo(municipality_tz(request))

    def produce() -> list[dict[str, Any]]:
        views = []
        if request_id.isascii() and request_id.isdigit() and len(request_id) < 19:
            views = repo.open311_requests(session, ids=[int(request_id)])
        if not views:
            raise Open311Error(404, (404, f"Заявка {request_id[:30]} не найдена."))
        return [open311.request_dict(views[0], services=_all_names(session), tz=tz)]

    return _reply(fmt, "service_requests", produce)


@router.get("/v2/tokens/{token}.{fmt}", summary="GET service_request_id from a token")
def get_token(session: DbSession, token: str, fmt: str) -> Response:
    """The request id behind a token (every service is realtime, so this is rarely needed)."""

    def produce() -> list[dict[str, Any]]:
        found = None
        if open311.TOKEN_RE.match(token):
            found = repo.open311_message_id_by_token(session, token=token)
        if found is None:
            raise Open311Error(404, (404, f"Токен {token[:40]} не найден."))
        return [{"service_request_id": str(found), "token": token}]

    return _reply(fmt, "service_requests", produce)
