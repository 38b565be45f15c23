"""Incident lists with filters, search and pagination (triage, lists, the JSON API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session, aliased

from core.models import (
    OPEN_STATUSES,
    Block,
    Classification,
    Department,
    Incident,
    Message,
    Settlement,
    SlaPolicy,
    Source,
    User,
    inline_values,
)
from web.repository.scope import IncidentScope

QUEUE_STATUSES = ("new", "reopened")
PAUSED = "paused"
# Open statuses whose deadline clock runs; a pause stops it (docs/sla.md, «Пауза»).
RUNNING_STATUSES = tuple(s for s in OPEN_STATUSES if s != PAUSED)
COUNT_CAP = 10_000


@dataclass(frozen=True)
class IncidentFilter:
    """What a list shows: every field optional; values are only ever bound parameters."""

    status: str = ""  # "" any, "queue" triage queue, "open", or a status code
    block: str = ""
    source_kind: str = ""
    settlement: str = ""
    department_id: int | None = None
    overdue: bool = False
    q: str = ""


@dataclass(frozen=True)
class IncidentRow:
    id: int
    number: str | None
    title: str
    block_code: str
    block_name: str
    status: str
    urgent: bool
    needs_review: bool
    settlement: str | None
    department_id: int | None
    department: str | None
    executor_id: int | None
    executor: str | None
    received_at: datetime
    due_at: datetime | None
    message_count: int
    # Paused, and the pause stops the pending deadline: not overdue, whatever due_at says.
    clock_stopped: bool = False


@dataclass
class TriageExtra:
    """The first message of an incident and its latest classification."""

    message_id: int
    text: str
    author_name: str | None
    source_kind: str
    confidence: float | None = None
    top3: list[Any] = field(default_factory=list)
    corrected: bool = False


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with % _ and \\ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _text_match(column: Any, q: str, dialect: str) -> ColumnElement[bool]:
    """Case-insensitive substring match (SQLite lower() knows only ASCII: try common cases)."""
    if dialect == "postgresql":
        return column.ilike(like_pattern(q), escape="\\")
    variants = dict.fromkeys([q, q.lower(), q.upper(), q.capitalize()])
    return or_(*(column.like(like_pattern(v), escape="\\") for v in variants))


def queue_clause() -> ColumnElement[bool]:
    """The triage queue: new or reopened, or open and flagged for review.

    The same expression is the predicate of the partial index `ix_incidents_queue`; the
    statuses are inlined because a prepared statement's generic plan cannot prove that
    bound parameters imply an index predicate.
    """
    return or_(
        Incident.status.in_(inline_values("queue_statuses", QUEUE_STATUSES)),
        and_(
            Incident.needs_review.is_(True),
            Incident.status.in_(inline_values("open_statuses", OPEN_STATUSES)),
        ),
    )


_QUEUE = queue_clause()  # clause objects are immutable: built once, reused by every query


def open_clause() -> ColumnElement[bool]:
    """Open incidents: the predicate of the partial index `ix_incidents_open_received`."""
    return Incident.status.in_(inline_values("open_only", OPEN_STATUSES))


_OPEN = open_clause()


def running_clause() -> ColumnElement[bool]:
    """Open and not paused: the deadline clock runs (statuses inlined, as in open_clause)."""
    return Incident.status.in_(inline_values("running_statuses", RUNNING_STATUSES))


def _calendar_term_pending() -> ColumnElement[bool]:
    """The pending deadline is a calendar-day final term (59-ФЗ), which a pause does not stop.

    SQL of `incidents.rules.stops_on_pause`: the law knows no suspension of such a term. A
    first-answer deadline is in working hours and stops; a final one stops unless its policy
    counts it in calendar days rather than working days.
    """
    calendar_days = select(SlaPolicy.code).where(
        SlaPolicy.final_answer_working_days.is_(None),
        SlaPolicy.final_answer_calendar_days.is_not(None),
    )
    final_pending = or_(
        Incident.first_answer_due_at.is_(None), Incident.first_answered_at.is_not(None)
    )
    return and_(final_pending, Incident.sla_policy.in_(calendar_days))


def paused_running_clause() -> ColumnElement[bool]:
    """Paused, yet the deadline clock runs (a 59-ФЗ calendar-day term)."""
    return and_(Incident.status == PAUSED, _calendar_term_pending())


def overdue_arms(now: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """Past the nearest deadline while its clock runs, as two disjoint arms: not paused, and
    paused on a 59-ФЗ term. A paused incident whose clock stands is not overdue.

    Each arm is a status list and a plain `due_at` range for `ix_incidents_status_due`; the
    first is answered from the index alone, the second reads only the few paused rows.
    """
    return (
        and_(running_clause(), Incident.due_at < now),
        and_(paused_running_clause(), Incident.due_at < now),
    )


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """The overdue filter in one condition (for pages of rows, which read the table anyway)."""
    return or_(*overdue_arms(now))


def clock_stopped_column() -> ColumnElement[bool]:
    """True for a paused incident whose pending deadline waits with it (for display)."""
    stopped = and_(Incident.status == PAUSED, ~_calendar_term_pending())
    return stopped.label("clock_stopped")


def _status_clause(status: str) -> ColumnElement[bool] | None:
    if status == "queue":
        return _QUEUE
    if status == "open":
        return _OPEN
    return Incident.status == status if status else None


def _conditions(
    flt: IncidentFilter, scope: IncidentScope, *, now: datetime, dialect: str, overdue: bool = True
) -> list[ColumnElement[bool]]:
    """The filter's WHERE conditions; `overdue=False` leaves the overdue one to the caller."""
    found: list[ColumnElement[bool] | None] = [
        None if scope.everything else scope.clause(),
        _status_clause(flt.status),
        Incident.block_code == flt.block if flt.block else None,
        Incident.settlement == flt.settlement if flt.settlement else None,
        Incident.department_id == flt.department_id if flt.department_id is not None else None,
    ]
    if flt.overdue and overdue:
        found.append(overdue_clause(now))
    if flt.source_kind:
        found.append(
            exists()
            .where(Message.incident_id == Incident.id, Source.id == Message.source_id)
            .where(Source.kind == flt.source_kind)
        )
    q = flt.q.strip()[:200]
    if q:
        in_messages = exists().where(
            Message.incident_id == Incident.id, _text_match(Message.text, q, dialect)
        )
        found.append(
            or_(_text_match(Incident.title, q, dialect), Incident.number == q, in_messages)
        )
    return [c for c in found if c is not None]


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


# Plain columns, not the Incident entity: a page of rows skips the ORM's identity map.
_ROW_COLUMNS = (
    Incident.id,
    Incident.number,
    Incident.title,
    Incident.block_code,
    Incident.status,
    Incident.urgent,
    Incident.needs_review,
    Incident.settlement,
    Incident.department_id,
    Incident.executor_id,
    Incident.received_at,
    Incident.due_at,
    Incident.message_count,
)


_EXECUTOR = aliased(User, name="executor")
# Built once: constructing the joins and the alias per request cost more than the query.
_ROWS = (
    select(
        *_ROW_COLUMNS,
        Block.name.label("block_name"),
        Department.name.label("department"),
        _EXECUTOR.full_name.label("executor"),
        clock_stopped_column(),
    )
    .join(Block, Block.code == Incident.block_code)
    .outerjoin(Department, Department.id == Incident.department_id)
    .outerjoin(_EXECUTOR, _EXECUTOR.id == Incident.executor_id)
)


def _filtered(session: Session, flt: IncidentFilter, scope: IncidentScope, now: datetime) -> Any:
    return _ROWS.where(*_conditions(flt, scope, now=now, dialect=_dialect(session)))


def _row(row: Any) -> IncidentRow:
    return IncidentRow(
        id=row.id,
        number=row.number,
        title=row.title,
        block_code=row.block_code,
        block_name=row.block_name,
        status=row.status,
        urgent=row.urgent,
        needs_review=row.needs_review,
        settlement=row.settlement,
        department_id=row.department_id,
        department=row.department,
        executor_id=row.executor_id,
        executor=row.executor,
        received_at=row.received_at,
        due_at=row.due_at,
        message_count=row.message_count,
        clock_stopped=bool(row.clock_stopped),
    )


def list_incidents(
    session: Session,
    *,
    flt: IncidentFilter,
    scope: IncidentScope,
    now: datetime,
    limit: int,
    offset: int,
    order: str = "recent",
) -> list[IncidentRow]:
    """One page of incidents: `recent` (newest first) or `due` (urgent, nearest deadline)."""
    stmt = _filtered(session, flt, scope, now)
    if order == "due":
        stmt = stmt.order_by(
            Incident.urgent.desc(), Incident.due_at.asc().nulls_last(), Incident.id.desc()
        )
    else:
        stmt = stmt.order_by(Incident.received_at.desc(), Incident.id.desc())
    rows = session.execute(stmt.limit(limit).offset(offset))
    return [_row(row) for row in rows]


def count_incidents(
    session: Session,
    *,
    flt: IncidentFilter,
    scope: IncidentScope,
    now: datetime,
    cap: int = COUNT_CAP,
) -> int:
    """How many incidents match, counted up to `cap` + 1 (beyond that: «more than cap»).

    The overdue filter counts its two arms apart, in one round trip: as one OR, PostgreSQL
    would read every overdue row from the table instead of the index alone.
    """
    conditions = _conditions(flt, scope, now=now, dialect=_dialect(session), overdue=False)
    rows = select(Incident.id).where(*conditions)
    if not flt.overdue:
        return int(session.scalar(_capped_count(rows, cap)) or 0)
    running, paused = (_capped_count(rows.where(arm), cap) for arm in overdue_arms(now))
    found = session.scalar(select(running.scalar_subquery() + paused.scalar_subquery()))
    return min(int(found or 0), cap + 1)


def _capped_count(rows: Select[Any], cap: int) -> Select[Any]:
    """SELECT count(*) of `rows`, reading at most `cap` + 1 of them."""
    return select(func.count()).select_from(rows.limit(cap + 1).subquery())


def triage_extras(session: Session, *, incident_ids: list[int]) -> dict[int, TriageExtra]:
    """First message and its latest classification for each incident of a page (one query)."""
    if not incident_ids:
        return {}
    first = (
        select(func.min(Message.id))
        .where(Message.incident_id.in_(incident_ids))
        .group_by(Message.incident_id)
    )
    rows = session.execute(
        select(
            Message.id,
            Message.incident_id,
            Message.text,
            Message.author_name,
            Source.kind,
            Classification.confidence,
            Classification.top3,
            Classification.corrected_by,
        )
        .join(Source, Source.id == Message.source_id)
        .outerjoin(Classification, Classification.message_id == Message.id)
        .where(Message.id.in_(first))
        .order_by(Message.id, Classification.id)
    )
    extras: dict[int, TriageExtra] = {}
    for mid, inc_id, text, author, kind, confidence, top3, corrected_by in rows:
        if inc_id is None:
            continue
        extra = extras.get(inc_id)
        if extra is None:
            extra = TriageExtra(
                message_id=mid, text=text[:400], author_name=author, source_kind=kind
            )
            extras[inc_id] = extra
        if confidence is not None:  # rows come oldest classification first: the last one wins
            extra.confidence, extra.top3 = confidence, list(top3 or [])
            extra.corrected = corrected_by is not None
    return extras


def settlements_in_use(session: Session) -> list[str]:
    """Settlement names for the filter (the gazetteer's, in alphabetical order)."""
    return list(session.scalars(select(Settlement.name).order_by(Settlement.name)))


def row_by_id(session: Session, *, incident_id: int, now: datetime) -> IncidentRow | None:
    """One incident as a list row (no scope: callers check access first)."""
    stmt = _filtered(session, IncidentFilter(), IncidentScope(), now).where(
        Incident.id == incident_id
    )
    found = session.execute(stmt).first()
    return _row(found) if found else None
