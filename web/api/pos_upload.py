"""Upload of a ПОС export (XLSX/CSV) for the admin page: POST /api/v1/import/pos."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response

from collectors.pos_import import PosFormatError, open_pos_file, store_rows
from core.models import Source
from web.api.common import SafeJSONResponse, municipality_tz, pepper, require_key
from web.deps import DbSession

router = APIRouter(prefix="/api/v1", tags=["API интеграций"])
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_REPORTED_ERRORS = 1000

PosSource = Annotated[Source, require_key("pos")]


@router.post(
    "/import/pos",
    summary="Загрузить выгрузку ПОС (XLSX или CSV)",
    responses={
        401: {"description": "Ключ API не передан, неизвестен или отозван"},
        403: {"description": "Ключ не от источника вида pos"},
        413: {"description": "Файл больше 50 МБ"},
        422: {"description": "Файл не читается: формат, кодировка или нет нужных колонок"},
    },
)
def upload_pos(
    request: Request,
    session: DbSession,
    source: PosSource,
    file: Annotated[UploadFile, File(description="Выгрузка ПОС: .xlsx или .csv")],
) -> Response:
    """Import good rows idempotently (external_id = номер) and report every bad row."""
    if file.size is not None and file.size > MAX_UPLOAD_BYTES:
        return SafeJSONResponse({"detail": "Файл больше 50 МБ; разделите выгрузку."}, 413)
    name = file.filename or "выгрузка"
    try:
        with open_pos_file(
            file.file,
            name=name,
            source=source.name,
            tz=municipality_tz(request),
            secret=pepper(request),
        ) as pos:
            report = store_rows(session, source=source, rows=pos.rows, now=datetime.now(UTC))
            meta = {
                "file": name,
                "format": pos.format,
                "encoding": pos.encoding,
                "sheet": pos.sheet,
            }
    except PosFormatError as exc:
        return SafeJSONResponse({"detail": str(exc)}, 422)
    body = meta | report.to_dict()
    body["errors"] = body["errors"][:MAX_REPORTED_ERRORS]
    body["errors_total"] = len(report.errors)
    return SafeJSONResponse(body)
