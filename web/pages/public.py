"""Public pages without login: «Сообщить о проблеме» and tracking by a random number."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from collectors import repository as collectors_repo
from core.errors import AppError
from core.models import Incident
from core.types import RawMessage
from incidents import service
from web.auth import client_ip
from web.deps import CSRF, Ctx, DbSession, WebContext
from web.pages.common import render, see_other
from web.repository import public as repo

router = APIRouter(include_in_schema=False, dependencies=[CSRF])

SOURCE_NAME = "web-form"
SOURCE_KIND = "portal"
MAX_PHOTO_BYTES = 5 * 1024 * 1024
MAX_TEXT, MIN_TEXT = 4000, 10
TRACK_RE = re.compile(r"[0-9a-f]{32}")
IMAGE_MAGIC = (
    (b"\xff\xd8\xff", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)


def _limit(limiter_ok: bool) -> None:
    if not limiter_ok:
        raise HTTPException(status_code=429, detail="Слишком много запросов. Попробуйте позже.")


def image_kind(head: bytes) -> str | None:
    """File extension of a JPEG, PNG, GIF or WebP image by its first bytes, else None."""
    for magic, ext in IMAGE_MAGIC:
        if head.startswith(magic):
            return ext
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


async def save_photo(photo: UploadFile | None, ctx: WebContext) -> str | None:
    """Store an image upload under var/uploads with a random name; AppError if unfit."""
    if photo is None or not photo.filename:
        return None
    data = await photo.read(MAX_PHOTO_BYTES + 1)
    if not data:
        return None
    if len(data) > MAX_PHOTO_BYTES:
        raise AppError("Фото больше 5 МБ: уменьшите его или отправьте без фото")
    ext = image_kind(data[:16])
    if ext is None:
        raise AppError("Можно приложить только изображение: JPEG, PNG, GIF или WebP")
    folder = ctx.settings.var_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{uuid.uuid4().hex}.{ext}"
    (folder / name).write_bytes(data)
    return f"uploads/{name}"


@router.get("/report", response_class=HTMLResponse)
def report_form(request: Request) -> Response:
    """The citizen's form."""
    return render(request, "public/report.html", {"form": {}, "error": None})


@router.post("/report")
async def report_submit(
    request: Request,
    session: DbSession,
    ctx: Ctx,
    text: str = Form(""),
    place: str = Form(""),
    contact: str = Form(""),
    photo: UploadFile | None = File(None),
) -> Response:
    """Store the message in the «web-form» source and send the author to its tracking page."""
    _limit(ctx.report_limiter.allow(client_ip(request)))
    form = {"text": text[:MAX_TEXT], "place": place[:300], "contact": contact[:200]}
    try:
        if len(text.strip()) < MIN_TEXT:
            raise AppError(
                "Опишите проблему подробнее: хотя бы пару слов о том, что и где случилось"
            )
        attachment = await save_photo(photo, ctx)
    except AppError as exc:
        return render(
            request, "public/report.html", {"form": form, "error": str(exc)}, status_code=400
        )
    tracking = uuid.uuid4().hex
    now = datetime.now(UTC)
    raw = RawMessage(
        source=SOURCE_NAME,
        external_id=tracking,
        text=form["text"].strip(),
        created_at=now,
        place_text=form["place"].strip() or None,
        contact=form["contact"].strip() or None,
        attachments=(attachment,) if attachment else (),
    )
    source = collectors_repo.ensure_source(session, name=SOURCE_NAME, kind=SOURCE_KIND)
    collectors_repo.store_messages(session, source=source, messages=[raw], now=now)
    return see_other(f"/track/{tracking}?new=1")


@router.get("/track", response_class=HTMLResponse)
def track_lookup(request: Request, number: str = "") -> Response:
    """Form to enter a tracking number (or a redirect to its page)."""
    number = number.strip().lower().replace("-", "")
    if TRACK_RE.fullmatch(number):
        return see_other(f"/track/{number}")
    error = "Номер не найден: проверьте, что он введён полностью" if number else None
    return render(request, "public/track_lookup.html", {"error": error})


def _info(request: Request, session: DbSession, ctx: WebContext, number: str) -> repo.TrackInfo:
    _limit(ctx.track_limiter.allow(client_ip(request)))
    info = None
    if TRACK_RE.fullmatch(number):
        info = repo.track(session, source_name=SOURCE_NAME, external_id=number)
    if info is None:
        raise HTTPException(status_code=404, detail="Обращение с таким номером не найдено")
    return info


@router.get("/track/{number}", response_class=HTMLResponse)
def track(request: Request, session: DbSession, ctx: Ctx, number: str, new: int = 0) -> Response:
    """Status, dates and published answers only: no names, contacts or other messages."""
    info = _info(request, session, ctx, number)
    return render(request, "public/track.html", {"info": info, "number": number, "new": new})


@router.post("/track/{number}/feedback")
def track_feedback(
    request: Request, session: DbSession, ctx: Ctx, number: str, verdict: str = Form("")
) -> Response:
    """The author's verdict on the answer: «да» resolves, «нет» reopens (via the service)."""
    info = _info(request, session, ctx, number)
    incident = session.get(Incident, info.incident_id) if info.incident_id else None
    if incident is None or not info.answers or info.verdict is not None:
        raise HTTPException(status_code=409, detail="Оценить можно после ответа, один раз")
    service.record_feedback(
        session,
        incident=incident,
        verdict=verdict,
        comment=None,
        channel="web",
        now=datetime.now(UTC),
        calendar=ctx.calendar,
    )
    return see_other(f"/track/{number}?thanks=1")
