"""SQL of the portal, Open311 and ПОС intake: API keys, message lookup, Open311 reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.orm import Session

from collectors.open311 import IncidentFacts, RequestView
from core.models import OPEN_STATUSES, Answer, ApiKey, Block, Department, Incident, Message, Source

OPEN311_KIND = "open311"


def add_api_key(
    session: Session, *, source_id: int, prefix: str, key_hash: str, now: datetime
) -> ApiKey:
    """Store a new key's hash for the source."""
    key = ApiKey(source_id=source_id, prefix=prefix, key_hash=key_hash, created_at=now)
    session.add(key)
    session.flush()
    return key


def active_keys_with_prefix(session: Session, *, prefix: str) -> list[tuple[str, Source]]:
    """(key_hash, source) of unrevoked keys sharing this prefix."""
    stmt = (
        select(ApiKey.key_hash, Source)
        .join(Source, Source.id == ApiKey.source_id)
        .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
    )
    return [(key_hash, source) for key_hash, source in session.execute(stmt)]


def list_api_keys(session: Session) -> list[tuple[ApiKey, Source]]:
    """Every key with its source, newest first."""
    stmt = (
        select(ApiKey, Source)
        .join(Source, Source.id == ApiKey.source_id)
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    )
    return [(key, source) for key, source in session.execute(stmt)]


def revoke_api_keys(session: Session, *, prefix: str, now: datetime) -> int:
    """Revoke the unrevoked keys with this prefix; return how many."""
    stmt = (
        update(ApiKey)
        .where(ApiKey.prefix == prefix, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]


def message_id_by_external_id(session: Session, *, source_id: int, external_id: str) -> int | None:
    """Id of the source's message with this external id."""
    stmt = select(Message.id).where(
        Message.source_id == source_id, Message.external_id == external_id
    )
    return session.scalar(stmt)


def block_names(session: Session, *, active_only: bool = False) -> list[tuple[str, str]]:
    """(code, name) of blocks in the rubricator's order."""
    stmt = select(Block.code, Block.name).order_by(Block.sort_order, Block.code)
    if active_only:
        stmt = stmt.where(Block.active.is_(True))
    return [(code, name) for code, name in session.execute(stmt)]


def _base_query() -> Select[Message, Incident, str]:
    # Only messages that came in through Open311 are public: other channels (e-mail,
    # private messages) must never leak through this API.
    return (
        select(Message, Incident, Department.name)
        .join(Source, Source.id == Message.source_id)
        .outerjoin(Incident, Incident.id == Message.incident_id)
        .outerjoin(Department, Department.id == Incident.department_id)
        .where(Source.kind == OPEN311_KIND)
    )


def _code_filter(codes: Sequence[str]) -> Any:
    requested = [Message.external_id.startswith(f"{code}:", autoescape=True) for code in codes]
    return or_(
        and_(Incident.id.is_not(None), Incident.block_code.in_(codes)),
        and_(Incident.id.is_(None), or_(*requested)),
    )


def _status_filter(status: str) -> Any:
    if status == "open":
        return or_(Incident.id.is_(None), Incident.status.in_(OPEN_STATUSES))
    return and_(Incident.id.is_not(None), Incident.status.not_in(OPEN_STATUSES))


def open311_requests(
    session: Session,
    *,
    ids: Sequence[int] = (),
    codes: Sequence[str] = (),
    statuses: Sequence[str] = (),
    window: tuple[datetime, datetime] | None = None,
    limit: int = 1000,
) -> list[RequestView]:
    """Open311 requests: by ids (overriding every other filter) or by code/status/window."""
    stmt = _base_query()
    if ids:
        stmt = stmt.where(Message.id.in_(list(ids)))
    else:
        if codes:
            stmt = stmt.where(_code_filter(codes))
        if len(set(statuses)) == 1:
            stmt = stmt.where(_status_filter(statuses[0]))
        if window:
            stmt = stmt.where(Message.received_at.between(*window))
    stmt = stmt.order_by(Message.received_at.desc(), Message.id.desc()).limit(limit)
    rows = list(session.execute(stmt))
    answers = latest_published_answers(session, incident_ids=[i.id for _, i, _ in rows if i])
    return [_view(msg, inc, dept, answers) for msg, inc, dept in rows]


def open311_message_id_by_token(session: Session, *, token: str) -> int | None:
    """The Open311 message whose external_id ends with this token."""
    stmt = (
        select(Message.id)
        .join(Source, Source.id == Message.source_id)
        .where(
            Source.kind == OPEN311_KIND,
            Message.external_id.endswith(f":{token}", autoescape=True),
        )
    )
    return session.scalar(stmt.limit(1))


def latest_published_answers(session: Session, *, incident_ids: Sequence[int]) -> dict[int, str]:
    """The text of each incident's most recently published answer."""
    if not incident_ids:
        return {}
    stmt = (
        select(Answer.incident_id, Answer.text)
        .where(Answer.incident_id.in_(list(incident_ids)), Answer.published_at.is_not(None))
        .order_by(Answer.published_at, Answer.id)
    )
    # Ascending order: later answers overwrite earlier ones.
    return {incident_id: text for incident_id, text in session.execute(stmt)}


def _address(inc: Incident) -> str | None:
    street = " ".join(p for p in (inc.street, inc.house) if p)
    return ", ".join(p for p in (street, inc.settlement) if p) or None


def _view(
    msg: Message, inc: Incident | None, department: str | None, answers: dict[int, str]
) -> RequestView:
    facts = None
    if inc is not None:
        facts = IncidentFacts(
            number=inc.number,
            status=inc.status,
            block_code=inc.block_code,
            department=department,
            updated_at=inc.updated_at,
            due_at=inc.due_at,
            closed_at=inc.closed_at or inc.resolved_at,
            address=_address(inc),
            lat=inc.lat,
            lon=inc.lon,
            latest_answer=answers.get(inc.id),
        )
    return RequestView(
        message_id=msg.id,
        external_id=msg.external_id,
        text=msg.text,
        received_at=msg.received_at,
        place_text=msg.place_text,
        lat=msg.lat,
        lon=msg.lon,
        attachments=tuple(str(a) for a in msg.attachments or ()),
        incident=facts,
    )
