"""One incident for its page: messages across channels, history, answers, verdicts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Integer, bindparam, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from core.models import (
    Answer,
    Block,
    CitizenFeedback,
    Department,
    Incident,
    IncidentEvent,
    Message,
    Source,
    User,
)
from web.repository.scope import IncidentScope


@dataclass(frozen=True)
class TimelineItem:
    message_id: int
    source_kind: str
    source_name: str
    author_name: str | None
    created_at: datetime
    text: str
    url: str | None
    place_text: str | None
    attachments: list[Any]


@dataclass(frozen=True)
class EventRow:
    at: datetime
    action: str
    actor: str | None
    from_status: str | None
    to_status: str | None
    reason: str | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class AnswerRow:
    id: int
    kind: str
    text: str
    author: str | None
    created_at: datetime
    published_at: datetime | None
    formal_reply: bool
    formal_reasons: list[Any]


@dataclass(frozen=True)
class FeedbackRow:
    verdict: str
    comment: str | None
    channel: str | None
    created_at: datetime


def visible_incident(
    session: Session, *, incident_id: int, scope: IncidentScope
) -> Incident | None:
    """The incident if it exists and the scope allows it (else None: shown as 404)."""
    incident = session.get(Incident, incident_id)
    if incident is None or not scope.allows(incident):
        return None
    return incident


@dataclass(frozen=True)
class IncidentCard:
    """The incident with the names of its block, department and executor, and its lists."""

    incident: Incident
    names: dict[str, str | None]
    timeline: list[TimelineItem]
    history: list[EventRow]
    answers: list[AnswerRow]
    feedback: list[FeedbackRow]


# The card is one statement: the incident with its names, and each list as a JSON array
# of rows in a correlated subquery. Five statements (an ORM one and four Core ones) cost
# twice the CPU: each statement has its round trip, result set-up and psycopg's column
# descriptions. Aggregates keep no order on SQLite before 3.44, so rows are sorted here.
class _json_row(FunctionElement[Any]):
    """One row as a JSON array."""

    inherit_cache = True


class _json_rows(FunctionElement[Any]):
    """The rows of a group as one JSON array, `[]` for none."""

    type = JSON()
    inherit_cache = True


class _json_value(FunctionElement[Any]):
    """A JSON column inside `_json_row`: SQLite stores JSON as text, so parse it there."""

    inherit_cache = True


@compiles(_json_row)
def _json_row_sqlite(element: _json_row, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_array({compiler.process(element.clauses, **kw)})"


@compiles(_json_row, "postgresql")
def _json_row_pg(element: _json_row, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_build_array({compiler.process(element.clauses, **kw)})"


@compiles(_json_rows)
def _json_rows_sqlite(element: _json_rows, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array({compiler.process(element.clauses, **kw)})"


@compiles(_json_rows, "postgresql")
def _json_rows_pg(element: _json_rows, compiler: SQLCompiler, **kw: Any) -> str:
    return f"coalesce(json_agg({compiler.process(element.clauses, **kw)}), '[]'::json)"


@compiles(_json_value)
def _json_value_sqlite(element: _json_value, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json({compiler.process(element.clauses, **kw)})"


@compiles(_json_value, "postgresql")
def _json_value_pg(element: _json_value, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


_INC, _MSG, _SRC, _EVT = (
    Incident.__table__,
    Message.__table__,
    Source.__table__,
    IncidentEvent.__table__,
)
_ANS, _FB, _USR = Answer.__table__, CitizenFeedback.__table__, User.__table__


def _json_list(*columns: Any, table: Any, joined: Any = None) -> Any:
    """Rows `[at, id, ...]` of `table` for the incident of the enclosing statement."""
    rows = select(_json_rows(_json_row(*columns))).where(table.c.incident_id == _INC.c.id)
    return (rows.select_from(joined) if joined is not None else rows).scalar_subquery()


_TIMELINE = _json_list(
    _MSG.c.created_at,
    _MSG.c.id,
    _SRC.c.kind,
    _SRC.c.name,
    _MSG.c.author_name,
    _MSG.c.text,
    _MSG.c.url,
    _MSG.c.place_text,
    _json_value(_MSG.c.attachments),
    table=_MSG,
    joined=_MSG.join(_SRC, _SRC.c.id == _MSG.c.source_id),
)
_HISTORY = _json_list(
    _EVT.c.at,
    _EVT.c.id,
    _EVT.c.action,
    _USR.c.full_name,
    _USR.c.username,
    _EVT.c.from_status,
    _EVT.c.to_status,
    _EVT.c.reason,
    _json_value(_EVT.c.payload),
    table=_EVT,
    joined=_EVT.outerjoin(_USR, _USR.c.id == _EVT.c.actor_id),
)
_ANSWERS = _json_list(
    _ANS.c.created_at,
    _ANS.c.id,
    _ANS.c.kind,
    _ANS.c.text,
    _USR.c.full_name,
    _ANS.c.published_at,
    _ANS.c.formal_reply,
    _json_value(_ANS.c.formal_reasons),
    table=_ANS,
    joined=_ANS.outerjoin(_USR, _USR.c.id == _ANS.c.author_id),
)
_FEEDBACK = _json_list(
    _FB.c.created_at, _FB.c.id, _FB.c.verdict, _FB.c.comment, _FB.c.channel, table=_FB
)
_EXECUTOR = aliased(User, name="executor")
_CARD = (
    select(
        Incident,
        Block.name,
        Department.name,
        func.coalesce(func.nullif(_EXECUTOR.full_name, ""), _EXECUTOR.username),
        _TIMELINE,
        _HISTORY,
        _ANSWERS,
        _FEEDBACK,
    )
    .outerjoin(Block, Block.code == Incident.block_code)
    .outerjoin(Department, Department.id == Incident.department_id)
    .outerjoin(_EXECUTOR, _EXECUTOR.id == Incident.executor_id)
    .where(Incident.id == bindparam("incident_id", type_=Integer))
)


def _utc(value: str | None) -> datetime | None:
    # As UTCDateTime reads it: SQLite's text is naive UTC, PostgreSQL's has an offset.
    if value is None:
        return None
    at = datetime.fromisoformat(value)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _ordered(rows: list[list[Any]]) -> list[list[Any]]:
    """JSON rows `[at, id, ...]` with `at` read, in the order `at, id` of the old queries."""
    for row in rows:
        row[0] = _utc(row[0])
    rows.sort(key=itemgetter(0, 1))
    return rows


def _timeline(rows: list[list[Any]]) -> list[TimelineItem]:
    return [
        TimelineItem(
            message_id=id_,
            source_kind=kind,
            source_name=name,
            author_name=author,
            created_at=at,
            text=text_,
            url=url,
            place_text=place,
            attachments=list(attachments or []),
        )
        for at, id_, kind, name, author, text_, url, place, attachments in _ordered(rows)
    ]


def _history(rows: list[list[Any]]) -> list[EventRow]:
    # No login: the system or the citizen acted.
    return [
        EventRow(
            at=at,
            action=action,
            actor=(full or login) if login else None,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
            payload=dict(payload or {}),
        )
        for at, _id, action, full, login, from_status, to_status, reason, payload in _ordered(rows)
    ]


def _answers(rows: list[list[Any]]) -> list[AnswerRow]:
    return [
        AnswerRow(
            id=id_,
            kind=kind,
            text=text_,
            author=name,
            created_at=at,
            published_at=_utc(published),
            formal_reply=bool(formal),
            formal_reasons=list(reasons or []),
        )
        for at, id_, kind, text_, name, published, formal, reasons in _ordered(rows)
    ]


def _feedback(rows: list[list[Any]]) -> list[FeedbackRow]:
    return [
        FeedbackRow(verdict=verdict, comment=comment, channel=channel, created_at=at)
        for at, _id, verdict, comment, channel in _ordered(rows)
    ]


def incident_card(
    session: Session, *, incident_id: int, scope: IncidentScope
) -> IncidentCard | None:
    """Everything the incident page reads, in one statement (None when the incident does not
    exist or the scope hides it). Through the session: pending changes are flushed first."""
    found = session.execute(_CARD, {"incident_id": incident_id}).first()
    if found is None or not scope.allows(found[0]):
        return None
    incident, block, department, executor, timeline, history, answers, feedback = found
    return IncidentCard(
        incident=incident,
        names={
            "block": block or incident.block_code,
            "department": department,
            "executor": executor,
        },
        timeline=_timeline(timeline),
        history=_history(history),
        answers=_answers(answers),
        feedback=_feedback(feedback),
    )


def answer_by_id(session: Session, *, answer_id: int) -> Answer | None:
    """One answer row."""
    return session.get(Answer, answer_id)


def message_in_incident(session: Session, *, message_id: int, incident_id: int) -> Message | None:
    """The message if it belongs to the incident."""
    msg = session.get(Message, message_id)
    return msg if msg is not None and msg.incident_id == incident_id else None
