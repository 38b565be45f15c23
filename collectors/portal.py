"""REST intake (POST /api/v1/messages): payload validation, RawMessage mapping, tracking ids.

Before a message becomes an incident, the citizen gets the tracking number ``П-000123``
(Cyrillic «П» for «портал» and the zero-padded message id); the incident number
(``МЦУ-2026-000123``) replaces it on /track once the worker registers the incident.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from collectors.base import pseudonymize
from collectors.repository import MAX_TEXT_CHARS
from core.types import Geo, RawMessage

# Generous for 100,000 characters even when every one arrives as a \uXXXX escape.
MAX_BODY_BYTES = 1_048_576
TRACKING_PREFIX = "П-"
_TRACKING_RE = re.compile(r"^\s*[ПпPp]\s*-?\s*(\d{1,12})\s*$")

StrictStr = Annotated[str, Field(strict=True)]


def _clean(value: str) -> str:
    # NUL bytes break PostgreSQL text columns and carry no meaning for a citizen message.
    return value.replace("\x00", "").strip()


def _limited(value: str | None, *, name: str, limit: int) -> str | None:
    if value is None:
        return None
    value = _clean(value)
    if len(value) > limit:
        raise PydanticCustomError(
            "too_long", "{name}: не длиннее {limit} символов", {"name": name, "limit": limit}
        )
    return value or None


class IntakePayload(BaseModel):
    """The JSON body an integration sends; unknown fields are refused to surface typos."""

    model_config = ConfigDict(extra="forbid")

    external_id: StrictStr
    text: StrictStr
    author: StrictStr | None = None
    created_at: datetime | None = None
    url: StrictStr | None = None
    place: StrictStr | None = None
    lat: float | None = None
    lon: float | None = None

    @field_validator("external_id")
    @classmethod
    def _external_id(cls, value: str) -> str:
        cleaned = _limited(value, name="external_id", limit=200)
        if not cleaned:
            raise PydanticCustomError("external_id_empty", "external_id не может быть пустым")
        return cleaned

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        value = _clean(value)
        if not value:
            raise PydanticCustomError("text_empty", "Текст сообщения пуст")
        if len(value) > MAX_TEXT_CHARS:
            raise PydanticCustomError(
                "text_too_long",
                "Текст длиннее {limit} символов ({length})",
                {"limit": MAX_TEXT_CHARS, "length": len(value)},
            )
        return value

    @field_validator("author")
    @classmethod
    def _author(cls, value: str | None) -> str | None:
        return _limited(value, name="author", limit=200)

    @field_validator("place")
    @classmethod
    def _place(cls, value: str | None) -> str | None:
        return _limited(value, name="place", limit=500)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        value = _limited(value, name="url", limit=1000)
        if value and not re.match(r"^https?://\S+$", value):
            raise PydanticCustomError("url_scheme", "url: ожидается ссылка http:// или https://")
        return value

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise PydanticCustomError(
                "timezone_missing",
                "created_at: укажите часовой пояс, например 2026-11-20T10:00:00+10:00",
            )
        return value

    @field_validator("lat")
    @classmethod
    def _lat(cls, value: float | None) -> float | None:
        if value is not None and not -90 <= value <= 90:
            raise PydanticCustomError("lat_range", "lat: широта от −90 до 90")
        return value

    @field_validator("lon")
    @classmethod
    def _lon(cls, value: float | None) -> float | None:
        if value is not None and not -180 <= value <= 180:
            raise PydanticCustomError("lon_range", "lon: долгота от −180 до 180")
        return value

    @model_validator(mode="after")
    def _pair(self) -> IntakePayload:
        if (self.lat is None) != (self.lon is None):
            raise PydanticCustomError("geo_pair", "lat и lon передаются только вместе")
        return self


def validation_errors(errors: list[Any]) -> list[dict[str, Any]]:
    """FastAPI's 422 shape without `input`, so a huge or hostile body is never echoed."""
    return [{"type": e["type"], "loc": ["body", *e["loc"]], "msg": e["msg"]} for e in errors]


def to_raw(payload: IntakePayload, *, source_name: str, now: datetime, secret: str) -> RawMessage:
    """The RawMessage stored for a payload; a created_at in the future is clamped to now."""
    created = min(payload.created_at, now) if payload.created_at else now
    author_id = None
    if payload.author:
        # Scoped by source: the same name on two sites is not the same person.
        account = f"{source_name}:{payload.author.casefold()}"
        author_id = pseudonymize(kind="portal", account_id=account, secret=secret)
    lat, lon = payload.lat, payload.lon
    return RawMessage(
        source=source_name,
        external_id=payload.external_id,
        text=payload.text,
        created_at=created,
        author_id=author_id,
        author_name=payload.author,
        url=payload.url,
        geo=Geo(lat, lon) if lat is not None and lon is not None else None,
        place_text=payload.place,
    )


def tracking_number(message_id: int) -> str:
    """The tracking number shown before the incident exists, e.g. «П-000123»."""
    return f"{TRACKING_PREFIX}{message_id:06d}"


def parse_tracking_number(value: str) -> int | None:
    """The message id in «П-000123» (Cyrillic or Latin P, any case), None otherwise."""
    found = _TRACKING_RE.match(value)
    return int(found.group(1)) if found else None


def accepted(message_id: int) -> dict[str, Any]:
    """The intake response body."""
    return {"id": message_id, "tracking_number": tracking_number(message_id), "status": "accepted"}
