"""The bulk SQL of intake's batch path: one statement per table and batch where it can.

A worker batch writes thousands of rows (incidents, events, classifications, alerts). What
costs is per-row work, so the rows are plain dicts and:

- on PostgreSQL the INSERTs are binary COPYs on the session's connection, in its
  transaction: no value is formatted as text in Python nor parsed from text by PostgreSQL,
  only JSON columns travel as their text (the one `core.db` writes). COPY has no ON
  CONFLICT, so the outbox rows go through a temporary table and one INSERT ... ON CONFLICT
  DO NOTHING. The UPDATEs (links, joined incidents) take their rows as one JSON parameter
  (`json_populate_recordset`): COPY into a temporary table made them no cheaper;
- on SQLite one executemany (the driver's loop in C) per table, its statement compiled
  once, its values bound by the table's bind processors called here on plain tuples, not
  by SQLAlchemy's per-row parameter work (most of the Python time of a batch's writes): a
  copy of the table binds UTC datetimes as the text SQLAlchemy stores (remembered, as a
  batch's rows share most of their times) and JSON columns as `core.db`'s text.

A value a fast path cannot take (a naive or non-datetime time, NaN in PostgreSQL's JSON)
sends nothing there: the statement goes through SQLAlchemy's own binding instead, which
stores or refuses it (StatementError) as the ORM does.

Values and results are the ones of the ORM path: aware UTC datetimes, JSON columns as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cache, lru_cache
from json.encoder import c_encode_basestring, c_make_encoder  # type: ignore[attr-defined]
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    TypeDecorator,
    bindparam,
    literal_column,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.models import AlertOutbox, Incident, Message
from core.models.base import UTCDateTime
from incidents.rows import IncidentRow


def sqlite_datetime(value: datetime | None) -> str | None:
    """SQLAlchemy's SQLite DATETIME text ("YYYY-MM-DD HH:MM:SS.ffffff", UTC) of an aware
    datetime, in one call instead of its generic formatting."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise TypeError(f"{type(value).__name__} given to a UTC datetime column")
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return _utc_text(value)


@lru_cache(maxsize=8192)
def _utc_text(value: datetime) -> str:
    # Remembered: a batch's rows share most of their times (its `now`, the messages of one
    # collector pass, their deadlines), ≈ 8 of 9 values in the bench. Equal instants in any
    # zone compare and hash equal, and their UTC text is the same.
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


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
            return _BoundAs(_json_text)
        return column.type

    columns = [Column(c.name, fast(c), primary_key=c.primary_key) for c in table.columns]
    return Table(table.name, MetaData(), *columns)


_SQLITE = sqlite.dialect()


@dataclass(frozen=True, slots=True)
class _Many:
    """A statement compiled once for SQLite's executemany: its text, the row keys of its
    positional parameters, and the bind processors that apply, by position (the datetime
    and JSON ones of `_sqlite_table`, Boolean's check)."""

    sql: str
    keys: tuple[str, ...]
    processed: tuple[tuple[int, Callable[[Any], Any]], ...]


def _compile_many(stmt: Any, keys: Sequence[str] | None = None) -> _Many:
    compiled = stmt.compile(dialect=_SQLITE, column_keys=None if keys is None else list(keys))
    names = tuple(compiled.positiontup or ())
    processed = []
    for at, name in enumerate(names):
        if (process := compiled.binds[name].type.bind_processor(_SQLITE)) is not None:
            processed.append((at, process))
    return _Many(compiled.string, names, tuple(processed))


def _insert_statement(table: Table, conflict: str, *, pg: bool) -> Any:
    """INSERT into the table (on SQLite its fast-binding copy), existing `conflict` values
    skipped when it names a column."""
    insert: Any = postgresql.insert(table) if pg else sqlite.insert(_sqlite_table(table))
    if conflict:
        insert = insert.on_conflict_do_nothing(index_elements=[conflict])
    return insert


def _update_statement(columns: Sequence[str], *, pg: bool) -> Any:
    """UPDATE of incidents' `columns` by id; the rows' keys are the names prefixed `b_`."""
    target = cast(Table, Incident.__table__)
    if not pg:
        target = _sqlite_table(target)
    return (
        target.update()
        .where(target.c.id == bindparam("b_id"))
        .values({name: bindparam(f"b_{name}") for name in columns})
    )


@cache
def _sqlite_insert(table: Table, keys: tuple[str, ...], conflict: str) -> _Many:
    return _compile_many(_insert_statement(table, conflict, pg=False), keys)


@cache
def _sqlite_update(columns: tuple[str, ...]) -> _Many:
    return _compile_many(_update_statement(columns, pg=False))


def _sqlite_many(session: Session, many: _Many, rows: Sequence[Mapping[str, Any]]) -> bool:
    """Run the statement once per row as SQLite's executemany, the values bound by the
    processors as SQLAlchemy binds them but without its per-row parameter work (what a
    batch's writes spent most of their Python time on). False, with nothing sent, when a
    processor refuses a value: the caller's generic statement then raises as it always has.
    """
    keys, processed = many.keys, many.processed
    values = []
    try:
        for row in rows:
            bound = [row[key] for key in keys]
            for at, process in processed:
                bound[at] = process(bound[at])
            values.append(tuple(bound))
    except (ValueError, TypeError):
        return False
    if session.autoflush:
        session.flush()  # as session.execute would: the rows may refer to pending ones
    # Through SQLAlchemy's connection: its events, transaction and error types stay.
    session.connection().exec_driver_sql(many.sql, values)
    return True


@cache
def _defaulted(table: Table) -> frozenset[str]:
    """Columns with a default in the model (the ORM would fill them in)."""
    return frozenset(c.name for c in table.columns if c.default is not None and not c.primary_key)


def _pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _iso(value: Any) -> str:
    """How a datetime travels in JSON (the C encoder asks only for values it cannot encode)."""
    if not isinstance(value, datetime):
        raise TypeError(f"{type(value).__name__} has no JSON form")
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC).isoformat()


def recordset(rows: Iterable[Mapping[str, Any]]) -> str:
    """The rows as one JSON array (datetimes as ISO 8601 with offset); ValueError for NaN."""
    return json.dumps(list(rows), ensure_ascii=False, allow_nan=False, default=_iso)


def _no_json_form(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _json_encoder(*, default: Callable[[Any], Any], allow_nan: bool) -> Callable[[Any], str]:
    """A JSON column's text as `core.db` writes it (`json.dumps(value, ensure_ascii=False)`),
    with `default` for values JSON has no form for. The C encoder is made once, not once
    per value as `JSONEncoder.encode` does: that nearly halves the cost of the small values
    of a batch."""
    if c_make_encoder is None:  # Python built without the C accelerator
        encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=allow_nan, default=default)
        return encoder.encode
    chunks = c_make_encoder(
        None, default, c_encode_basestring, None, ": ", ", ", False, False, allow_nan
    )
    return lambda value: "".join(chunks(value, 0))


# PostgreSQL: nested datetimes as in `recordset`, NaN refused (its JSON has none).
_json_value = _json_encoder(default=_iso, allow_nan=False)
# SQLite: exactly what `core.db` writes (NaN as NaN, a datetime refused).
_json_text = _json_encoder(default=_no_json_form, allow_nan=True)


@dataclass(frozen=True, slots=True)
class _CopyPlan:
    """How rows with these keys travel in a binary COPY into a table."""

    names: tuple[str, ...]
    types: tuple[str, ...]  # psycopg type names: the binary form of each value
    json_at: tuple[int, ...]  # sent as their text: json_recv takes the JSON text as given
    times_at: tuple[int, ...]  # checked for naive datetimes, which COPY cannot place


def _copy_type(column: Column[Any]) -> str:
    """The binary form of the column's values (the server reads them with its own type's
    receive function, so the form must be the column's: int4 for INTEGER, and so on)."""
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return "timestamptz"
    if isinstance(kind, JSON):
        return "text"  # the binary form of json is its text
    if isinstance(kind, Float) and (kind.precision or 53) > 24:  # FLOAT(24) is a real
        return "float8"
    for base, name in (
        (Boolean, "bool"),
        (SmallInteger, "int2"),
        (BigInteger, "int8"),
        (Integer, "int4"),
        (String, "text"),  # varchar and text share their binary form
    ):
        if isinstance(kind, base):
            return name
    raise TypeError(f"{column.table.name}.{column.name}: no COPY form for {kind!r}")


@cache
def _copy_plan(table: Table, names: tuple[str, ...]) -> _CopyPlan:
    columns = [table.c[name] for name in names]
    return _CopyPlan(
        names=names,
        types=tuple(_copy_type(column) for column in columns),
        json_at=tuple(i for i, c in enumerate(columns) if isinstance(c.type, JSON)),
        times_at=tuple(i for i, c in enumerate(columns) if isinstance(c.type, UTCDateTime)),
    )


def _copy_values(plan: _CopyPlan, rows: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """The rows as COPY values, JSON encoded; ValueError for naive datetimes and NaN in JSON,
    TypeError for a time that is no datetime or a value JSON has no form for (before
    anything is sent: the caller then takes the generic path, which refuses or stores them
    as it always has)."""
    names, json_at, times_at = plan.names, plan.json_at, plan.times_at
    out = []
    for row in rows:
        values = [row[name] for name in names]
        for i in json_at:
            if (value := values[i]) is not None:
                values[i] = _json_value(value)
        for i in times_at:
            if (value := values[i]) is None:
                continue
            if not isinstance(value, datetime):
                raise TypeError(f"{type(value).__name__} given to a UTC datetime column")
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
        out.append(values)
    return out


def _driver(session: Session) -> Any:
    """The session's psycopg connection, in its transaction, pending changes flushed first
    (as `session.execute` would: the copied rows may refer to them)."""
    if session.autoflush:
        session.flush()
    return session.connection().connection.driver_connection


def _copy(driver: Any, target: str, plan: _CopyPlan, values: Iterable[Sequence[Any]]) -> None:
    statement = f"COPY {target} ({', '.join(plan.names)}) FROM STDIN (FORMAT BINARY)"
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types(plan.types)
        for row in values:
            copy.write_row(row)


def _copy_skipping(
    session: Session, table: Table, plan: _CopyPlan, values: list[list[Any]], conflict: str
) -> None:
    """COPY has no ON CONFLICT: the rows go to a temporary table of the connection first.

    One INSERT ... SELECT then takes them over in their order (the ids follow it), existing
    keys skipped, and empties the temporary table, so that a second call in the transaction
    starts empty too (the commit truncates it anyway). Each call makes sure it exists (IF
    NOT EXISTS: cheap once made, and a table made in a transaction rolled back is gone).
    It has the columns of `table` without defaults (no sequence value is taken for the
    copy) or constraints, and `bulk_order`, which numbers the rows.
    """
    driver = _driver(session)
    connection = session.connection()
    stage = f"pg_temp.bulk_{table.name}"
    connection.execute(
        text(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
            f"SELECT *, 0 AS bulk_order FROM {table.name} WITH NO DATA"
        )
    )
    for n, row in enumerate(values):
        row.append(n)
    ordered = replace(plan, names=(*plan.names, "bulk_order"), types=(*plan.types, "int4"))
    _copy(driver, stage, ordered, values)
    names = ", ".join(plan.names)
    connection.execute(
        text(
            f"WITH staged AS (DELETE FROM {stage} RETURNING *) "
            f"INSERT INTO {table.name} ({names}) SELECT {names} FROM staged "
            f"ORDER BY bulk_order ON CONFLICT ({conflict}) DO NOTHING"
        )
    )


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
        plan = _copy_plan(table, tuple(rows[0]))
        try:
            values = _copy_values(plan, rows)
        except (ValueError, TypeError):  # NaN in JSON, naive times, not a time at all: the
            values = None  # generic path stores or refuses them as it always has
        if values is not None:
            if conflict:
                _copy_skipping(session, table, plan, values, conflict)
            else:
                _copy(_driver(session), table.name, plan, values)
            return
    elif _sqlite_many(session, _sqlite_insert(table, tuple(rows[0]), conflict), rows):
        return
    # A value the fast paths refused: stored or refused by SQLAlchemy's own binding.
    session.execute(_insert_statement(table, conflict, pg=_pg(session)), list(rows))


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
        except (ValueError, TypeError):
            payload = None
        if payload is not None:
            sets = ", ".join(f"{name} = r.{name}" for name in columns)
            joined = text(
                f"UPDATE incidents AS i SET {sets} "
                "FROM json_populate_recordset(NULL::incidents, :rows) AS r WHERE i.id = r.id"
            )
            session.execute(joined, {"rows": payload})
            return
    bound = [{f"b_{k}": v for k, v in row.items()} for row in rows]
    if not _pg(session) and _sqlite_many(session, _sqlite_update(tuple(columns)), bound):
        return
    session.execute(_update_statement(columns, pg=_pg(session)), bound)


_MESSAGES = cast(Table, Message.__table__)
_LINK = (
    _MESSAGES.update()
    .where(_MESSAGES.c.id == bindparam("b_id"))
    .values(incident_id=bindparam("b_incident_id"), status=literal_column("'linked'"))
)


@cache
def _sqlite_link() -> _Many:
    return _compile_many(_LINK)


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
        rows = [{"b_id": m.id, "b_incident_id": i} for m, i in links]
        if not _sqlite_many(session, _sqlite_link(), rows):
            session.execute(_LINK, rows)
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
