"""The bulk SQL of intake's batch path: one statement per table and batch where it can.

A worker batch writes thousands of rows (incidents, events, classifications, alerts). What
costs is per-row Python work, so the rows are plain dicts and:

- on PostgreSQL each table gets ONE statement whose rows travel as one JSON parameter
  (`json_populate_recordset`, as `collectors.repository.store_messages` does): one round
  trip, and the encoding is the C JSON encoder's;
- on SQLite an executemany (the driver's loop in C) through a copy of the table whose
  datetime columns are bound by one `strftime` (the same text SQLAlchemy stores) instead
  of the generic DateTime processing, several times slower per value.

Values and results are the ones of the ORM path: aware UTC datetimes, JSON columns as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import JSON, Column, MetaData, String, Table, TypeDecorator, bindparam, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.models import AlertOutbox, Incident, Message
from core.models.base import UTCDateTime
from incidents.rows import IncidentRow

# A JSON column's text as `core.db` writes it (`json.dumps(value, ensure_ascii=False)`).
_json_text = json.JSONEncoder(ensure_ascii=False).encode


def sqlite_datetime(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite DATETIME text ("YYYY-MM-DD HH:MM:SS.ffffff", UTC) of an aware
    datetime, in one call instead of its generic formatting."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


def _sqlite_json(value: Any) -> str:
    return _json_text(value)


class _BoundAs(TypeDecorator[Any]):
    """A column type of the fast copy: values bound by one plain function."""

    impl = String
    cache_ok = True

    def __init__(self, bind: Callable[[Any], Any]) -> None:
        super().__init__()
        self._bind = bind

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any]:
        return self._bind


@cache
def _sqlite_table(table: Table) -> Table:
    """A copy of the table (no constraints) whose UTC datetime and JSON columns bind fast."""

    def fast(column: Column[Any]) -> Any:
        if isinstance(column.type, UTCDateTime):
            return _BoundAs(sqlite_datetime)
        if isinstance(column.type, JSON):
            return _BoundAs(_sqlite_json)
        return column.type

    columns = [Column(c.name, fast(c), primary_key=c.primary_key) for c in table.columns]
    return Table(table.name, MetaData(), *columns)


@cache
def _defaulted(table: Table) -> frozenset[str]:
    """Columns with a default in the model (the ORM would fill them in)."""
    return frozenset(c.name for c in table.columns if c.default is not None and not c.primary_key)


def _pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _iso(value: Any) -> str:
    """How a datetime travels in the JSON of a recordset (the C encoder asks only for these)."""
    if not isinstance(value, datetime):
        raise TypeError(f"{type(value).__name__} has no JSON form")
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC).isoformat()


def recordset(rows: Iterable[Mapping[str, Any]]) -> str:
    """The rows as one JSON array (datetimes as ISO 8601 with offset); ValueError for NaN."""
    return json.dumps(list(rows), ensure_ascii=False, allow_nan=False, default=_iso)


def insert_rows(
    session: Session, table: Table, *, rows: Sequence[Mapping[str, Any]], conflict: str = ""
) -> None:
    """INSERT the rows (all with the same keys); `conflict` names a unique column whose
    existing values are skipped (ON CONFLICT DO NOTHING)."""
    if not rows:
        return
    if missing := _defaulted(table) - rows[0].keys():
        # Neither path below applies Python-side column defaults: the rows must carry them.
        raise ValueError(f"{table.name}: rows lack {sorted(missing)}")
    if _pg(session):
        try:
            payload = recordset(rows)
        except ValueError:  # NaN coordinates, naive times: the generic path stores or refuses
            payload = None
        if payload is not None:
            names = ", ".join(rows[0])
            skip = f" ON CONFLICT ({conflict}) DO NOTHING" if conflict else ""
            stmt = text(
                f"INSERT INTO {table.name} ({names}) SELECT {names} "
                f"FROM json_populate_recordset(NULL::{table.name}, :rows){skip}"
            )
            session.execute(stmt, {"rows": payload})
            return
        insert: Any = postgresql.insert(table)
    else:
        insert = sqlite.insert(_sqlite_table(table))
    if conflict:
        insert = insert.on_conflict_do_nothing(index_elements=[conflict])
    session.execute(insert, list(rows))


def insert_alerts(session: Session, *, rows: Sequence[Mapping[str, Any]]) -> None:
    """Outbox rows, existing dedupe keys skipped (racing workers never fail)."""
    insert_rows(session, cast(Table, AlertOutbox.__table__), rows=rows, conflict="dedupe_key")


def insert_incidents(session: Session, *, incidents: Sequence[IncidentRow]) -> None:
    """New incidents with their ids and numbers already given."""
    rows = [incident.values() for incident in incidents]
    insert_rows(session, cast(Table, Incident.__table__), rows=rows)


_RESERVE_PG = text(
    "SELECT nextval(pg_get_serial_sequence('incidents', 'id')) FROM generate_series(1, :count)"
)


def reserve_incident_ids(session: Session, *, count: int) -> list[int]:
    """`count` new incident ids, ascending, so the incidents are inserted with their numbers.

    PostgreSQL takes them from the sequence. SQLite gives max(id) + 1 to a new row: the
    empty UPDATE takes the database's write lock first, so no other writer can insert in
    between (ids are then those SQLite would have given, one by one).
    """
    connection = session.connection()  # not session.execute: no autoflush in the middle
    if _pg(session):
        return sorted(int(v) for v in connection.scalars(_RESERVE_PG, {"count": count}))
    connection.execute(text("UPDATE incidents SET id = id WHERE 0"))
    top = connection.scalar(select(Incident.id).order_by(Incident.id.desc()).limit(1)) or 0
    return list(range(top + 1, top + 1 + count))


def lock_incidents(session: Session, *, ids: Iterable[int]) -> dict[int, IncidentRow]:
    """The incidents with these ids as plain rows, row-locked (PostgreSQL) in id order, so
    two transactions that lock the same incidents never wait on each other in a circle."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    table = cast(Table, Incident.__table__)
    stmt = select(table).where(table.c.id.in_(wanted)).order_by(table.c.id).with_for_update()
    rows = session.connection().execute(stmt).mappings()
    return {row["id"]: IncidentRow.from_mapping(dict(row)) for row in rows}


def update_incidents(
    session: Session, *, incidents: Sequence[IncidentRow], columns: Sequence[str]
) -> None:
    """Write `columns` of existing incidents (one statement on PostgreSQL)."""
    if not incidents:
        return
    rows = [{name: getattr(i, name) for name in ("id", *columns)} for i in incidents]
    if _pg(session):
        try:
            payload = recordset(rows)
        except ValueError:
            payload = None
        if payload is not None:
            sets = ", ".join(f"{name} = r.{name}" for name in columns)
            joined = text(
                f"UPDATE incidents AS i SET {sets} "
                "FROM json_populate_recordset(NULL::incidents, :rows) AS r WHERE i.id = r.id"
            )
            session.execute(joined, {"rows": payload})
            return
    target = cast(Table, Incident.__table__)
    if not _pg(session):
        target = _sqlite_table(target)
    stmt = (
        target.update()
        .where(target.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in columns})
    )
    session.execute(stmt, [{f"b_{k}": v for k, v in row.items()} for row in rows])


def link_messages(session: Session, *, links: Sequence[tuple[Message, int]]) -> None:
    """Link messages to their incidents (status «linked»), the objects kept in step."""
    if not links:
        return
    if _pg(session):
        payload = json.dumps([{"id": m.id, "incident_id": i} for m, i in links])
        linked = text(
            "UPDATE messages AS m SET incident_id = r.incident_id, status = 'linked' "
            "FROM json_populate_recordset(NULL::messages, :rows) AS r WHERE m.id = r.id"
        )
        session.execute(linked, {"rows": payload})
    else:
        table = cast(Table, Message.__table__)
        stmt = (
            table.update()
            .where(table.c.id == bindparam("b_id"))
            .values(incident_id=bindparam("b_incident_id"), status="linked")
        )
        session.execute(stmt, [{"b_id": m.id, "b_incident_id": i} for m, i in links])
    for message, incident_id in links:
        set_committed_value(message, "incident_id", incident_id)
        set_committed_value(message, "status", "linked")


def mark_classified(session: Session, *, message_ids: Sequence[int]) -> None:
    """Status «classified» for messages left unlinked (noise), in one statement."""
    if message_ids:
        table = cast(Table, Message.__table__)
        stmt = table.update().where(table.c.id.in_(message_ids)).values(status="classified")
        session.execute(stmt)


def expire_incidents(session: Session, *, ids: Iterable[int]) -> None:
    """Forget loaded ORM copies of incidents the batch wrote with plain statements."""
    identity = session.identity_map
    for incident_id in ids:
        loaded = identity.get(session.identity_key(Incident, incident_id))
        if loaded is not None:
            session.expire(loaded)
