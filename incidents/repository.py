"""All SQL of the incidents package. Functions flush when ids are needed, never commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    Row,
    String,
    TypeDecorator,
    column,
    func,
    select,
    text,
    true,
    type_coerce,
    update,
    values,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from core.errors import NotFoundError
from core.models import (
    AlertOutbox,
    Answer,
    Classification,
    Incident,
    IncidentEvent,
    Message,
    RoutingRule,
    SlaPolicy,
    Source,
    User,
    UserBlock,
    inline_values,
)
from incidents.rules import Policy, RouteRule


def get_incident(session: Session, *, incident_id: int, for_update: bool = False) -> Incident:
    """The incident with this id (row-locked on PostgreSQL if asked); NotFoundError if absent."""
    incident = session.get(
        Incident, incident_id, with_for_update=for_update or None, populate_existing=for_update
    )
    if incident is None:
        raise NotFoundError(f"Инцидент {incident_id} не найден")
    return incident


def add(session: Session, obj: Any) -> None:
    """Add a new row and flush so that its id is known."""
    session.add(obj)
    session.flush()


def source_kind(session: Session, *, source_id: int) -> str | None:
    """Kind of the message's source (vk, pos, email…)."""
    return session.scalar(select(Source.kind).where(Source.id == source_id))


def source_kinds(session: Session) -> dict[int, str]:
    """Kind of every source by id (a batch looks them up once)."""
    return {source_id: kind for source_id, kind in session.execute(select(Source.id, Source.kind))}


def latest_classification(session: Session, *, message_id: int) -> Classification | None:
    """The most recent classification of a message."""
    stmt = (
        select(Classification)
        .where(Classification.message_id == message_id)
        .order_by(Classification.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)


class _ReceivedAt(TypeDecorator[datetime]):
    """Aware UTC on reading, without `astimezone` per row: PostgreSQL gives aware values
    already (in the session's zone, which compares the same), SQLite naive UTC ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def plan_candidates_by_block(session: Session) -> None:
    """Let the rest of the transaction read duplicate candidates by their block's index.

    `duplicate_candidate_rows` wants the newest 200 open incidents of a block by (received_at,
    id); ix_incidents_open_block_received gives exactly them. But PostgreSQL estimates an
    incremental sort over the open-incidents index (by received_at) as cheaper, assuming few
    incidents share one time of receipt, while a collector's batch or a ПОС import gives
    thousands the same one: then it reads and sorts all of them (7–10 ms against 0.4 ms per
    block on the intake bench). Transaction-local, so nothing else of the process is affected.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL enable_incremental_sort = off"))


def duplicate_candidate_rows(
    session: Session, *, block: str, statuses: Sequence[str], since: datetime, limit: int
) -> Sequence[Row[int, datetime, str | None, str | None, str | None, str | None]]:
    """(id, received_at, settlement, street, house, fingerprint) of the `limit` newest open
    incidents of a block received since `since`, newest first: what duplicate search reads."""
    stmt = (
        select(
            Incident.id,
            type_coerce(Incident.received_at, _ReceivedAt()),
            Incident.settlement,
            Incident.street,
            Incident.house,
            Incident.text_fingerprint,
        )
        .where(
            Incident.block_code == block,
            # Inlined: the partial index ix_incidents_open_block_received must match them.
            Incident.status.in_(inline_values("candidate_statuses", tuple(statuses))),
            Incident.received_at >= since,
        )
        .order_by(Incident.received_at.desc(), Incident.id.desc())
        .limit(limit)
    )
    # On the connection: no autoflush (the batch flushes when the pool must see its changes).
    return session.connection().execute(stmt).all()


# (id, received_at, settlement, street, house, fingerprint)
CandidateRow = Sequence[Any]


def duplicate_candidates_by_block(
    session: Session, *, since: Mapping[str, datetime], statuses: Sequence[str], limit: int
) -> dict[str, list[CandidateRow]]:
    """`duplicate_candidate_rows` of several blocks, each with its own `since`, in any order.

    On PostgreSQL one statement (a LATERAL subquery per block, each read through the
    partial index as the single query is): a batch of intake asks for a dozen blocks, and
    on a busy server every round trip waits its turn. SQLite asks block by block.
    """
    found: dict[str, list[CandidateRow]] = {block: [] for block in since}
    if not since:
        return found
    if session.get_bind().dialect.name != "postgresql":
        for block, start in since.items():
            found[block] = list(
                duplicate_candidate_rows(
                    session, block=block, statuses=statuses, since=start, limit=limit
                )
            )
        return found
    wanted = values(
        column("block", String), column("since", DateTime(timezone=True)), name="wanted"
    ).data(sorted(since.items()))
    newest = (
        select(
            Incident.id,
            type_coerce(Incident.received_at, _ReceivedAt()).label("received_at"),
            Incident.settlement,
            Incident.street,
            Incident.house,
            Incident.text_fingerprint,
        )
        .where(
            Incident.block_code == wanted.c.block,
            Incident.status.in_(inline_values("candidate_statuses", tuple(statuses))),
            Incident.received_at >= wanted.c.since,
        )
        .order_by(Incident.received_at.desc(), Incident.id.desc())
        .limit(limit)
        .lateral("newest")
    )
    stmt = select(wanted.c.block, newest).select_from(wanted).join(newest, true())
    # All rows at once: iterating the result fetches them one by one, at several times
    # the cost for the ~2,400 rows of a batch.
    for row in session.connection().execute(stmt).all():
        found[row[0]].append(row[1:])
    return found


def routing_rules(session: Session, *, block: str) -> list[RouteRule]:
    """Routing rules of a block as pure rule objects."""
    rows = session.scalars(select(RoutingRule).where(RoutingRule.block_code == block))
    return [
        RouteRule(
            id=row.id,
            block=row.block_code,
            department_id=row.department_id,
            settlement=row.settlement,
            street=row.street,
            executor_id=row.executor_id,
        )
        for row in rows
    ]


def routing_rules_by_block(session: Session) -> dict[str, list[RouteRule]]:
    """Every routing rule as pure rule objects, by block (a batch reads them once)."""
    by_block: dict[str, list[RouteRule]] = {}
    for row in session.scalars(select(RoutingRule)):
        by_block.setdefault(row.block_code, []).append(
            RouteRule(
                id=row.id,
                block=row.block_code,
                department_id=row.department_id,
                settlement=row.settlement,
                street=row.street,
                executor_id=row.executor_id,
            )
        )
    return by_block


def policy_not_found(code: str) -> NotFoundError:
    """The error of a policy code absent from the reference."""
    return NotFoundError(f"Политика сроков «{code}» не найдена в справочнике")


def _policy(row: SlaPolicy) -> Policy:
    return Policy(
        code=row.code,
        first_answer_working_hours=row.first_answer_working_hours,
        final_answer_working_days=row.final_answer_working_days,
        final_answer_calendar_days=row.final_answer_calendar_days,
        extension_calendar_days=row.extension_calendar_days,
    )


def get_policy(session: Session, *, code: str) -> Policy:
    """The SLA policy with this code; NotFoundError naming it if absent."""
    row = session.get(SlaPolicy, code)
    if row is None:
        raise policy_not_found(code)
    return _policy(row)


def policies_by_code(session: Session) -> dict[str, Policy]:
    """Every SLA policy by its code (a batch reads them once: a handful of rows)."""
    return {row.code: _policy(row) for row in session.scalars(select(SlaPolicy))}


def sector_heads(session: Session, *, block: str) -> list[int]:
    """Active sector heads who answer for the block."""
    stmt = (
        select(User.id)
        .join(UserBlock, UserBlock.user_id == User.id)
        .where(UserBlock.block_code == block, User.role == "sector_head", User.active.is_(True))
        .order_by(User.id)
    )
    return list(session.scalars(stmt))


def sector_heads_by_block(session: Session) -> dict[str, list[int]]:
    """Active sector heads of every block (by user id), as `sector_heads` gives them."""
    stmt = (
        select(UserBlock.block_code, User.id)
        .join(UserBlock, UserBlock.user_id == User.id)
        .where(User.role == "sector_head", User.active.is_(True))
        .order_by(User.id)
    )
    by_block: dict[str, list[int]] = {}
    for block, user_id in session.execute(stmt):
        by_block.setdefault(block, []).append(user_id)
    return by_block


def department_users_by_department(
    session: Session, *, role: str = "executor"
) -> dict[int, list[int]]:
    """Active users with the role of every department (by user id), as `department_users`."""
    stmt = (
        select(User.department_id, User.id)
        .where(User.department_id.is_not(None), User.role == role, User.active.is_(True))
        .order_by(User.id)
    )
    by_department: dict[int, list[int]] = {}
    for department_id, user_id in session.execute(stmt):
        if department_id is not None:
            by_department.setdefault(department_id, []).append(user_id)
    return by_department


def department_users(session: Session, *, department_id: int, role: str = "executor") -> list[int]:
    """Active users of a department with the role."""
    stmt = select(User.id).where(
        User.department_id == department_id, User.role == role, User.active.is_(True)
    )
    return list(session.scalars(stmt.order_by(User.id)))


def users_with_role(session: Session, *, role: str) -> list[int]:
    """Active users with the role (coordinators, operators)."""
    stmt = select(User.id).where(User.role == role, User.active.is_(True)).order_by(User.id)
    return list(session.scalars(stmt))


def insert_alerts(session: Session, *, rows: Sequence[dict[str, Any]]) -> int:
    """Insert outbox rows, skipping existing dedupe keys; returns how many were inserted.

    INSERT … ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, so racing workers never fail;
    given as one executemany, SQLAlchemy sends it as multi-row VALUES pages compiled once.
    """
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        module: Any = postgresql if dialect == "postgresql" else sqlite
        stmt = (
            module.insert(AlertOutbox.__table__)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(AlertOutbox.id)
        )
        return len(session.execute(stmt, list(rows)).all())
    keys = [row["dedupe_key"] for row in rows]
    taken = set(
        session.scalars(select(AlertOutbox.dedupe_key).where(AlertOutbox.dedupe_key.in_(keys)))
    )
    fresh: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["dedupe_key"] not in taken:
            fresh.setdefault(row["dedupe_key"], row)
    session.add_all([AlertOutbox(**row) for row in fresh.values()])
    session.flush()
    return len(fresh)


def escalation_batch(
    session: Session, *, skip_statuses: Sequence[str], max_level: int, after_id: int, limit: int
) -> list[Incident]:
    """Incidents with a pending deadline below the top step, claimed with SKIP LOCKED."""
    stmt = (
        select(Incident)
        .where(
            # NOT IN keeps the planner on the primary key (keyset by id) instead of sorting
            # every watched row found through the status index.
            Incident.status.not_in(skip_statuses),
            Incident.due_at.is_not(None),
            Incident.escalation_level < max_level,
            Incident.id > after_id,
        )
        .order_by(Incident.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))


def last_event_times(
    session: Session, *, incident_ids: Sequence[int], action: str
) -> dict[int, datetime]:
    """The time of the latest event with `action` per incident."""
    if not incident_ids:
        return {}
    stmt = (
        select(IncidentEvent.incident_id, func.max(IncidentEvent.at))
        .where(IncidentEvent.incident_id.in_(incident_ids), IncidentEvent.action == action)
        .group_by(IncidentEvent.incident_id)
    )
    return {incident_id: at for incident_id, at in session.execute(stmt)}


def count_events(session: Session, *, incident_id: int, action: str) -> int:
    """How many events with `action` the incident has."""
    stmt = select(func.count(IncidentEvent.id)).where(
        IncidentEvent.incident_id == incident_id, IncidentEvent.action == action
    )
    return int(session.scalar(stmt) or 0)


def events(session: Session, *, incident_id: int) -> list[IncidentEvent]:
    """The incident's history, oldest first."""
    stmt = (
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident_id)
        .order_by(IncidentEvent.at, IncidentEvent.id)
    )
    return list(session.scalars(stmt))


def previous_answer_texts(
    session: Session, *, incident_id: int, department_id: int | None, limit: int = 50
) -> list[str]:
    """Earlier answers of this incident or of its department, newest first."""
    scope = Answer.incident_id == incident_id
    if department_id is not None:
        same_dept = select(Incident.id).where(Incident.department_id == department_id)
        scope = scope | Answer.incident_id.in_(same_dept)
    stmt = select(Answer.text).where(scope).order_by(Answer.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def move_messages(session: Session, *, from_incident_id: int, to_incident_id: int) -> int:
    """Re-link every message of one incident to another; returns how many moved."""
    stmt = (
        update(Message)
        .where(Message.incident_id == from_incident_id)
        .values(incident_id=to_incident_id)
        .execution_options(synchronize_session="fetch")
    )
    result: Any = session.execute(stmt)
    return int(result.rowcount or 0)


def linked_messages(session: Session, *, incident_id: int) -> list[Message]:
    """Messages of an incident, oldest first."""
    stmt = select(Message).where(Message.incident_id == incident_id).order_by(Message.id)
    return list(session.scalars(stmt))
