"""Open311 GeoReport v2: services from blocks, form → RawMessage, message → request, XML/JSON.

Pure mapping, no SQL. Identifiers we chose (documented for integrators):
- service_code is the block code (``roads``, ``housing``…); every service has metadata=false
  and type=realtime, so POST returns service_request_id at once and never a token;
- service_request_id is the stored message id as a string; it keeps answering before the
  message becomes an incident (status open, no notes) and follows the incident afterwards;
- the stored external_id is ``<service_code>:<token>``: it keeps the requested service
  without a schema change, and the 32-hex token resolves through ``tokens/{token}``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from collectors.base import pseudonymize
from core.models import OPEN_STATUSES
from core.types import Geo, RawMessage

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
FORMATS = ("json", "xml")
MAX_DESCRIPTION = 4000
MAX_RESULTS = 1000
WINDOW = timedelta(days=90)
TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
SERVICE_FIELDS = (
    "service_code", "service_name", "description", "metadata", "type", "keywords", "group",
)  # fmt: skip
REQUEST_FIELDS = (
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat",
    "long", "media_url",
)  # fmt: skip
KEYWORDS = {
    "roads": "дорога, яма, асфальт, тротуар, мост, грейдирование",
    "housing": "вода, отопление, канализация, управляющая компания, подъезд, крыша",
    "energy": "свет, электричество, уличное освещение, газ",
    "waste": "мусор, контейнер, свалка, вывоз ТКО",
    "transport": "автобус, расписание, остановка, маршрут",
    "social": "школа, детский сад, больница, пособие, культура",
    "emergency": "пожар, паводок, подтопление, ЧС",
}
PENDING_NOTICE = "Сообщение принято и ожидает регистрации в МЦУ."
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Open311Error(Exception):
    """A request the spec answers with an error list: 400, 403 or 404."""

    def __init__(self, status: int, *errors: tuple[int, str]) -> None:
        super().__init__("; ".join(text for _, text in errors))
        self.status = status
        self.errors: list[dict[str, Any]] = [
            {"code": code, "description": text} for code, text in errors
        ]


@dataclass(frozen=True, slots=True)
class Submission:
    """A validated POST requests form."""

    service_code: str
    description: str | None = None
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    address_id: str | None = None
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    media_url: str | None = None
    attributes: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IncidentFacts:
    """What a request shows of the incident its message belongs to."""

    number: str | None
    status: str
    block_code: str
    department: str | None
    updated_at: datetime
    due_at: datetime | None
    closed_at: datetime | None
    address: str | None
    lat: float | None
    lon: float | None
    latest_answer: str | None


@dataclass(frozen=True, slots=True)
class RequestView:
    """A stored Open311 message with its incident, if it already has one."""

    message_id: int
    external_id: str
    text: str
    received_at: datetime
    place_text: str | None
    lat: float | None
    lon: float | None
    attachments: tuple[str, ...]
    incident: IncidentFacts | None


def new_token() -> str:
    """A random request token (32 hex characters)."""
    return secrets.token_hex(16)


def make_external_id(service_code: str, token: str) -> str:
    """The stored external_id of a request: the chosen service and its token."""
    return f"{service_code}:{token}"


def split_external_id(external_id: str) -> tuple[str, str] | None:
    """(service_code, token) of an Open311 external_id, None if it is not one."""
    code, sep, token = external_id.rpartition(":")
    return (code, token) if sep and code and TOKEN_RE.match(token) else None


def service_list(blocks: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """GET services: one realtime service without metadata per (code, name) block."""
    return [
        {
            "service_code": code,
            "service_name": name,
            "description": f"Сообщения по направлению «{name}»",
            "metadata": False,
            "type": "realtime",
            "keywords": KEYWORDS.get(code, ""),
            "group": name,
        }
        for code, name in blocks
    ]


def service_definition(code: str) -> dict[str, Any]:
    """GET services/{code}: no service asks for extra attributes (metadata=false)."""
    return {"service_code": code, "attributes": []}


def _one(form: Mapping[str, list[str]], name: str, limit: int, errors: list[str]) -> str | None:
    # Spec: an empty optional argument is the same as an absent one.
    values = form.get(name) or []
    value = values[-1].replace("\x00", "").strip() if values else ""
    if len(value) > limit:
        errors.append(f"{name}: не длиннее {limit} символов.")
        return None
    return value or None


def _coordinate(value: str | None, name: str, bound: float, errors: list[str]) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        errors.append(f"{name}: ожидается число, получено «{value[:40]}».")
        return None
    if not -bound <= number <= bound:  # also rejects nan
        errors.append(f"{name}: вне диапазона −{bound:g}…{bound:g}.")
        return None
    return number


def _attributes(form: Mapping[str, list[str]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, values in form.items():
        hit = re.fullmatch(r"attribute\[([^\]]{1,60})\](\[\])?", key)
        if hit:
            found.setdefault(hit.group(1), []).extend(v[:500] for v in values)
    return found


def _check_location(sub: Submission, lat: str | None, lon: str | None, errors: list[str]) -> None:
    if (lat is None) != (lon is None):
        errors.append("lat и long передаются только вместе.")
    elif lat is None and not (sub.address or sub.address_id):
        errors.append("Укажите место: lat и long, или address_string, или address_id.")


def _check_contacts(sub: Submission, errors: list[str]) -> None:
    if sub.email and not _EMAIL_RE.match(sub.email):
        errors.append("email: неверный адрес электронной почты.")
    if sub.media_url and not re.match(r"^https?://\S+$", sub.media_url):
        errors.append("media_url: ожидается ссылка http:// или https://.")


def parse_submission(form: Mapping[str, list[str]], *, services: Mapping[str, str]) -> Submission:
    """Validate a POST requests form (values as lists); raise Open311Error with every problem."""
    errors: list[str] = []
    code = _one(form, "service_code", 40, errors)
    if code is None:
        raise Open311Error(400, (400, "Не указан service_code (см. GET services)."))
    if code not in services:
        raise Open311Error(404, (404, f"Услуга service_code={code[:40]} не найдена."))
    raw_lat, raw_lon = _one(form, "lat", 40, errors), _one(form, "long", 40, errors)
    description = _one(form, "description", MAX_DESCRIPTION, errors)
    sub = Submission(
        service_code=code,
        description=description,
        lat=_coordinate(raw_lat, "lat", 90, errors) if raw_lon else None,
        lon=_coordinate(raw_lon, "long", 180, errors) if raw_lat else None,
        address=_one(form, "address_string", 500, errors),
        address_id=_one(form, "address_id", 100, errors),
        email=_one(form, "email", 254, errors),
        phone=_one(form, "phone", 40, errors),
        first_name=_one(form, "first_name", 100, errors),
        last_name=_one(form, "last_name", 100, errors),
        device_id=_one(form, "device_id", 200, errors),
        account_id=_one(form, "account_id", 200, errors),
        media_url=_one(form, "media_url", 1000, errors),
        attributes=_attributes(form),
    )
    _check_location(sub, raw_lat, raw_lon, errors)
    _check_contacts(sub, errors)
    if errors:
        raise Open311Error(400, *((400, text) for text in errors))
    return sub


def to_raw(
    sub: Submission, *, source_name: str, token: str, service_name: str, now: datetime, secret: str
) -> RawMessage:
    """The RawMessage stored for a submission (author pseudonymised, contacts kept apart)."""
    identity = (sub.email or "").lower() or sub.phone or sub.account_id or sub.device_id
    name = " ".join(p for p in (sub.first_name, sub.last_name) if p) or None
    place = sub.address or (f"address_id {sub.address_id}" if sub.address_id else None)
    return RawMessage(
        source=source_name,
        external_id=make_external_id(sub.service_code, token),
        text=sub.description or f"{service_name} (без описания)",
        created_at=now,
        author_id=pseudonymize(kind="open311", account_id=identity, secret=secret)
        if identity
        else None,
        author_name=name,
        attachments=(sub.media_url,) if sub.media_url else (),
        geo=Geo(sub.lat, sub.lon) if sub.lat is not None and sub.lon is not None else None,
        place_text=place,
        contact="; ".join(c for c in (sub.email, sub.phone) if c) or None,
        extra={"service_code": sub.service_code, "attributes": sub.attributes},
    )


def w3c(moment: datetime | None, tz: ZoneInfo) -> str | None:
    """ISO 8601 with the municipality's offset, e.g. 2026-11-20T11:00:00+10:00."""
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment else None


def is_open(view: RequestView) -> bool:
    """A request is open until its incident is resolved, rejected or closed."""
    return view.incident is None or view.incident.status in OPEN_STATUSES


def requested_code(view: RequestView) -> str:
    """The service the citizen chose (from the stored external_id)."""
    parsed = split_external_id(view.external_id)
    return parsed[0] if parsed else "other"


def request_dict(view: RequestView, *, services: Mapping[str, str], tz: ZoneInfo) -> dict[str, Any]:
    """One service request in the spec's field order; the incident wins where it exists."""
    inc, opened = view.incident, is_open(view)
    code = inc.block_code if inc else requested_code(view)
    updated = (inc.updated_at if opened else inc.closed_at or inc.updated_at) if inc else None
    has_inc_geo = inc is not None and inc.lat is not None and inc.lon is not None
    return {
        "service_request_id": str(view.message_id),
        "status": "open" if opened else "closed",
        "status_notes": inc.latest_answer if inc else None,
        "service_name": services.get(code, code),
        "service_code": code,
        "description": view.text,
        "agency_responsible": inc.department if inc else None,
        "service_notice": f"Зарегистрировано в МЦУ под номером {inc.number}."
        if inc and inc.number
        else PENDING_NOTICE,
        "requested_datetime": w3c(view.received_at, tz),
        "updated_datetime": w3c(updated or view.received_at, tz),
        "expected_datetime": w3c(inc.due_at, tz) if inc else None,
        "address": (inc.address if inc else None) or view.place_text,
        "address_id": None,
        "zipcode": None,
        "lat": inc.lat if inc and has_inc_geo else view.lat,
        "long": inc.lon if inc and has_inc_geo else view.lon,
        "media_url": view.attachments[0] if view.attachments else None,
    }


def parse_w3c(value: str, name: str) -> datetime:
    """A w3c datetime with a zone; Open311Error(400) otherwise."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise Open311Error(
            400,
            (
                400,
                f"{name}: ожидается дата ISO 8601 с часовым поясом, например 2026-01-01T00:00:00Z.",
            ),
        )
    return moment


def request_window(
    *, start: str | None, end: str | None, now: datetime
) -> tuple[datetime, datetime]:
    """The requested_datetime range: at most 90 days, by default the latest 90 days."""
    since = parse_w3c(start, "start_date") if start else None
    until = parse_w3c(end, "end_date") if end else None
    if since is None and until is None:
        return now - WINDOW, now
    if since is None and until is not None:
        return until - WINDOW, until
    assert since is not None
    until = until or since + WINDOW
    if until < since:
        raise Open311Error(400, (400, "end_date раньше start_date."))
    if until - since > WINDOW:
        raise Open311Error(400, (400, "Период start_date…end_date не может превышать 90 дней."))
    return since, until


def parse_ids(value: str) -> tuple[int, ...]:
    """service_request_id as a comma list of numbers (at most 1000)."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts or len(parts) > MAX_RESULTS or not all(p.isascii() and p.isdigit() for p in parts):
        raise Open311Error(400, (400, "service_request_id: список чисел через запятую (до 1000)."))
    return tuple(int(p) for p in parts)


def parse_statuses(value: str) -> tuple[str, ...]:
    """status as a comma list of open/closed."""
    statuses = tuple(sorted({p.strip() for p in value.split(",") if p.strip()}))
    if not statuses or not set(statuses) <= {"open", "closed"}:
        raise Open311Error(400, (400, "status: допустимы значения open и closed."))
    return statuses


def parse_codes(value: str) -> tuple[str, ...]:
    """service_code as a comma list."""
    return tuple(p.strip() for p in value.split(",") if p.strip())


def discovery(*, base_url: str, changeset: str) -> dict[str, Any]:
    """The Service Discovery document pointing at this GeoReport v2 endpoint."""
    return {
        "changeset": changeset,
        "contact": "Центр управления муниципальным образованием",
        "key_service": "Ключ API выдаёт администратор МЦУ (mcu apikey create --kind open311).",
        "endpoints": [
            {
                "specification": SPEC_URL,
                "url": f"{base_url}/open311/v2",
                "changeset": changeset,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
