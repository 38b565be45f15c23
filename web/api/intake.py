"""REST intake: POST /api/v1/messages with X-API-Key (idempotent by external_id)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from collectors import portal
from collectors import repository_portal as repo
from collectors.repository import record_success, store_messages
from core.models import Source
from web.api.common import SafeJSONResponse, pepper, require_key
from web.deps import DbSession

router = APIRouter(prefix="/api/v1", tags=["API интеграций"])
JSON_TYPES = ("application/json",)


class Accepted(BaseModel):
    id: int
    tracking_number: str
    status: str


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


def _too_large() -> HTTPException:
    limit_kb = portal.MAX_BODY_BYTES // 1024
    return HTTPException(
        413, f"Тело запроса больше {limit_kb} КБ; текст сообщения — до 100 000 символов."
    )


async def read_payload(request: Request) -> portal.IntakePayload:
    """The validated JSON body: 415 for other media types, 413 if oversized, 422 if invalid."""
    if not _is_json(request.headers.get("content-type", "")):
        raise HTTPException(415, "Ожидается тело JSON (Content-Type: application/json).")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > portal.MAX_BODY_BYTES:
        raise _too_large()
    body = bytearray()
    # Counted while streaming: a chunked body has no Content-Length to trust.
    async for chunk in request.stream():
        body += chunk
        if len(body) > portal.MAX_BODY_BYTES:
            raise _too_large()
    try:
        return portal.IntakePayload.model_validate_json(bytes(body))
    except ValidationError as exc:
        raise HTTPException(422, portal.validation_errors(exc.errors())) from exc


PortalSource = Annotated[Source, require_key("portal")]
Payload = Annotated[portal.IntakePayload, Depends(read_payload)]
_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": portal.IntakePayload.model_json_schema()}},
    }
}


@router.post(
    "/messages",
    status_code=201,
    response_model=Accepted,
    openapi_extra=_BODY_DOC,
    responses={
        200: {"description": "Повтор: сообщение с этим external_id уже принято", "model": Accepted},
        401: {"description": "Ключ API не передан, неизвестен или отозван"},
        403: {"description": "Ключ не от источника вида portal или источник отключён"},
        413: {"description": "Тело запроса слишком большое"},
        415: {"description": "Тело не JSON"},
        422: {"description": "Ошибки в полях (detail: список с loc и msg)"},
    },
    summary="Принять сообщение гражданина",
)
def post_message(
    request: Request, session: DbSession, source: PortalSource, payload: Payload
) -> Response:
    """Store the message once per (source, external_id); a repeat returns the same id."""
    now = datetime.now(UTC)
    raw = portal.to_raw(payload, source_name=source.name, now=now, secret=pepper(request))
    stored, _ = store_messages(session, source=source, messages=[raw], now=now)
    message_id = repo.message_id_by_external_id(
        session, source_id=source.id, external_id=raw.external_id
    )
    if message_id is None:  # pragma: no cover - the insert or the earlier row must exist
        raise HTTPException(500, "Сообщение не сохранено; повторите запрос.")
    if stored:
        record_success(session, source=source, cursor=source.cursor, fetched=1, stored=1, now=now)
    return SafeJSONResponse(portal.accepted(message_id), status_code=201 if stored else 200)
