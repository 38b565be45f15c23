"""All SQL of the rating: per department × block tallies for a period, and snapshots.

Every period query takes [start, as_of): events at or after ``as_of`` do not exist yet for
the rating, so a week computed later gives the same tallies as on the Monday after it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    and_,
    bindparam,
    case,
    distinct,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.models import (
    Answer,
    Block,
    CitizenFeedback,
    Department,
    Incident,
    IncidentEvent,
    RatingSnapshot,
    UTCDateTime,
)
from rating.scoring import Counts
from rating.speed import PAUSED, StatusChange

__all__ = [
    "CellKey",
    "SpeedRow",
    "answer_counts",
    "blocks",
    "departments",
    "first_received_at",
    "flow_counts",
    "get_snapshot",
    "merits_counts",
    "pause_changes",
    "published_snapshots",
    "save_snapshot",
    "speed_rows",
    "verdict_counts",
]

CellKey = tuple[int | None, str]  # (department_id, block_code)
_VERDICT_FIELD = {"yes": "verdict_yes", "partial": "verdict_partial", "no": "verdict_no"}


@dataclass(frozen=True, slots=True)
class SpeedRow:
    """An incident whose on-time verdict falls in the period."""

    incident_id: int
    department_id: int | None
    block_code: str
    received_at: datetime
    first_genuine_at: datetime | None
    on_time: bool


def _at(moment: datetime) -> ColumnElement[datetime]:
    """A bound UTC instant typed like the columns (naive on SQLite, aware on PostgreSQL)."""
    return literal(moment, UTCDateTime())


def _scan(column: Any) -> Any:
    """``column`` as an expression: SQLite then scans the table rather than walking an index
    over most of it (3-4x slower at 200k incidents); PostgreSQL plans it the same."""
    return func.coalesce(column, column)


def _decided_at() -> ColumnElement[datetime]:
    """When the incident left the work: final answer, resolution or closing."""
    return func.coalesce(Incident.final_answered_at, Incident.resolved_at, Incident.closed_at)


def _overdue_at(moment: ColumnElement[datetime]) -> ColumnElement[bool]:
    """Some deadline had passed at ``moment`` without the answer it asks for."""
    first_missing = or_(Incident.first_answered_at.is_(None), Incident.first_answered_at >= moment)
    return or_(
        and_(Incident.first_answer_due_at < moment, first_missing),
        Incident.final_due_at < moment,
        and_(
            Incident.first_answer_due_at.is_(None),
            Incident.final_due_at.is_(None),
            Incident.due_at < moment,
        ),
    )


def _count_if(condition: ColumnElement[bool]) -> Any:
    return func.count(case((condition, 1)))


def flow_counts(session: Session, *, start: datetime, as_of: datetime) -> dict[CellKey, Counts]:
    """Received, workload, backlog and decisions per cell, in one GROUP BY scan."""
    lo, hi = _at(start), _at(as_of)
    decided = _decided_at()
    in_period = and_(decided.is_not(None), decided < hi)
    received = Incident.received_at >= lo
    final_due = func.coalesce(Incident.final_due_at, Incident.due_at)
    dept = _scan(Incident.department_id)
    query = (
        select(
            dept,
            Incident.block_code,
            _count_if(received),
            func.coalesce(func.sum(case((received, Incident.message_count), else_=0)), 0),
            func.count(),
            _count_if(and_(or_(decided.is_(None), decided >= hi), _overdue_at(hi))),
            _count_if(and_(in_period, decided > final_due)),
            _count_if(in_period),
            _count_if(and_(in_period, Incident.reopen_count > 0)),
            _count_if(and_(in_period, Incident.status == "rejected")),
        )
        .where(_scan(Incident.received_at) < hi, or_(decided.is_(None), decided >= lo))
        .group_by(dept, Incident.block_code)
    )
    names = (
        *("received", "messages", "workload", "overdue_open", "late_decided"),
        *("decided", "reopened", "rejected"),
    )
    return {
        (row[0], row[1]): Counts(**dict(zip(names, map(int, row[2:]), strict=True)))
        for row in session.execute(query)
    }


def merits_counts(session: Session, *, start: datetime, as_of: datetime) -> dict[CellKey, int]:
    """Decided in the period on the merits: a genuine final answer, not rejected, not reopened."""
    lo, hi = _at(start), _at(as_of)
    decided = _decided_at()
    moment = func.coalesce(Answer.published_at, Answer.created_at)
    # A join rather than EXISTS inside flow_counts' CASE: PostgreSQL costs that subplan per
    # row of the whole scan and switches JIT on, which costs more than the query itself.
    dept = _scan(Incident.department_id)
    query = (
        select(dept, Incident.block_code, func.count(distinct(Incident.id)))
        .join(Answer, Answer.incident_id == Incident.id)
        .where(
            _scan(Incident.received_at) < hi,
            decided >= lo,
            decided < hi,
            Incident.status != "rejected",
            Incident.reopen_count == 0,
            Answer.kind == "final",
            Answer.formal_reply.is_(False),
            moment < hi,
        )
        .group_by(dept, Incident.block_code)
    )
    return {(r[0], r[1]): int(r[2]) for r in session.execute(query)}


def _timeliness_candidates(*, lo: ColumnElement[datetime], hi: ColumnElement[datetime]) -> Any:
    """Incidents whose controlling deadline is not before the period start (CTE)."""
    first_due = Incident.first_answer_due_at
    return (
        select(
            Incident.id,
            Incident.department_id,
            Incident.block_code,
            Incident.received_at,
            first_due.label("first_due"),
            func.coalesce(first_due, Incident.final_due_at).label("due"),
        )
        .where(
            _scan(Incident.received_at) < hi,
            or_(first_due >= lo, and_(first_due.is_(None), Incident.final_due_at >= lo)),
        )
        .cte("candidates")
    )


def speed_rows(session: Session, *, start: datetime, as_of: datetime) -> list[SpeedRow]:
    """Incidents judged for timeliness in the period: answered in time, or deadline passed."""
    lo, hi = _at(start), _at(as_of)
    candidates = _timeliness_candidates(lo=lo, hi=hi)
    # One join + GROUP BY instead of correlated subqueries: PostgreSQL would JIT-compile those.
    moment = func.coalesce(Answer.published_at, Answer.created_at)
    genuine = Answer.formal_reply.is_(False)
    answered = (
        select(
            Answer.incident_id,
            func.min(case((genuine, moment))).label("genuine"),
            func.min(case((and_(genuine, Answer.kind == "final"), moment))).label("final"),
        )
        .join(candidates, candidates.c.id == Answer.incident_id)
        .group_by(Answer.incident_id)
        .subquery()
    )
    c = candidates.c
    # Without a first-answer deadline the final answer is the one the deadline asks for.
    answer = case((c.first_due.is_not(None), answered.c.genuine), else_=answered.c.final)
    on_time = answer <= c.due
    verdict_at = case((on_time, answer), else_=c.due)
    query = (
        select(
            c.id,
            c.department_id,
            c.block_code,
            c.received_at,
            answered.c.genuine,
            case((on_time, 1), else_=0),
        )
        .select_from(candidates.outerjoin(answered, answered.c.incident_id == c.id))
        .where(verdict_at >= lo, verdict_at < hi)
    )
    return [SpeedRow(r[0], r[1], r[2], r[3], r[4], bool(r[5])) for r in session.execute(query)]


def pause_changes(
    session: Session, *, incident_ids: Collection[int], as_of: datetime
) -> dict[int, list[StatusChange]]:
    """Changes into and out of «paused» before ``as_of`` per incident, oldest first.

    One query for the whole week: the ids are inlined (no bound-parameter limit on SQLite)
    and looked up through the index on ``incident_events.incident_id``.
    """
    if not incident_ids:
        return {}
    ids: BindParameter[int] = bindparam(
        "pause_ids", sorted(incident_ids), expanding=True, literal_execute=True
    )
    query = (
        select(
            IncidentEvent.incident_id,
            IncidentEvent.at,
            IncidentEvent.from_status,
            IncidentEvent.to_status,
        )
        .where(
            IncidentEvent.incident_id.in_(ids),
            or_(IncidentEvent.to_status == PAUSED, IncidentEvent.from_status == PAUSED),
            IncidentEvent.at < _at(as_of),
        )
        .order_by(IncidentEvent.incident_id, IncidentEvent.at, IncidentEvent.id)
    )
    found: dict[int, list[StatusChange]] = defaultdict(list)
    for incident_id, at, from_status, to_status in session.execute(query):
        found[incident_id].append((at, from_status, to_status))
    return dict(found)


def answer_counts(
    session: Session, *, start: datetime, as_of: datetime
) -> dict[CellKey, tuple[int, int]]:
    """(answers, of them «отписки») given in the period, per cell."""
    moment = func.coalesce(Answer.published_at, Answer.created_at)
    dept, block = _scan(Incident.department_id), _scan(Incident.block_code)
    query = (
        select(dept, block, func.count(), _count_if(Answer.formal_reply.is_(True)))
        .join(Incident, Incident.id == Answer.incident_id)
        .where(moment >= _at(start), moment < _at(as_of))
        .group_by(dept, block)
    )
    return {(r[0], r[1]): (int(r[2]), int(r[3])) for r in session.execute(query)}


def verdict_counts(
    session: Session, *, start: datetime, as_of: datetime
) -> dict[CellKey, dict[str, int]]:
    """Citizen verdicts given in the period, per cell, as Counts field names → count."""
    query = (
        select(Incident.department_id, Incident.block_code, CitizenFeedback.verdict, func.count())
        .join(Incident, Incident.id == CitizenFeedback.incident_id)
        .where(CitizenFeedback.created_at >= _at(start), CitizenFeedback.created_at < _at(as_of))
        .group_by(Incident.department_id, Incident.block_code, CitizenFeedback.verdict)
    )
    result: dict[CellKey, dict[str, int]] = defaultdict(dict)
    for dept, block, verdict, count in session.execute(query):
        field = _VERDICT_FIELD.get(verdict)
        if field is not None:
            result[(dept, block)][field] = int(count)
    return dict(result)


def departments(session: Session) -> list[tuple[int, str, str, bool]]:
    """(id, code, name, active) of every department."""
    rows = session.execute(
        select(Department.id, Department.code, Department.name, Department.active)
    )
    return [(r[0], r[1], r[2], bool(r[3])) for r in rows]


def blocks(session: Session) -> list[tuple[str, str, bool]]:
    """(code, name, active) of every sector block in display order."""
    query = select(Block.code, Block.name, Block.active).order_by(Block.sort_order, Block.code)
    return [(r[0], r[1], bool(r[2])) for r in session.execute(query)]


def get_snapshot(session: Session, *, week: str, scope: str) -> RatingSnapshot | None:
    """The stored snapshot of ``week`` in ``scope``, if any."""
    query = select(RatingSnapshot).where(RatingSnapshot.week == week, RatingSnapshot.scope == scope)
    return session.scalars(query).one_or_none()


def published_snapshots(
    session: Session, *, weeks: list[str], scope: str
) -> dict[str, RatingSnapshot]:
    """Published snapshots of the given weeks, by week."""
    query = select(RatingSnapshot).where(
        RatingSnapshot.week.in_(weeks),
        RatingSnapshot.scope == scope,
        RatingSnapshot.published_at.is_not(None),
    )
    return {snap.week: snap for snap in session.scalars(query)}


def save_snapshot(
    session: Session,
    *,
    week: str,
    scope: str,
    payload: dict[str, Any],
    computed_at: datetime,
    published_at: datetime | None,
) -> RatingSnapshot:
    """Insert or refresh an unpublished snapshot; a published one is returned untouched."""
    values = {"payload": payload, "computed_at": computed_at, "published_at": published_at}
    if get_snapshot(session, week=week, scope=scope) is None:
        try:
            with session.begin_nested():
                session.add(RatingSnapshot(week=week, scope=scope, **values))
        except IntegrityError:
            pass  # another process stored it first; fall through to the guarded update
        else:
            return _reload(session, week=week, scope=scope)
    # Guarded in SQL so two publishers racing cannot overwrite a published week.
    session.execute(
        update(RatingSnapshot)
        .where(
            RatingSnapshot.week == week,
            RatingSnapshot.scope == scope,
            RatingSnapshot.published_at.is_(None),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return _reload(session, week=week, scope=scope)


def _reload(session: Session, *, week: str, scope: str) -> RatingSnapshot:
    snap = get_snapshot(session, week=week, scope=scope)
    if snap is None:
        raise LookupError(f"rating snapshot {week}/{scope} vanished")
    session.refresh(snap)
    return snap


def first_received_at(session: Session) -> datetime | None:
    """When the earliest incident arrived (an index lookup); None when there is none."""
    return session.scalar(select(func.min(Incident.received_at)))
