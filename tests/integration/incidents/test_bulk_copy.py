"""The bulk writes of intake (`incidents.repository_bulk`) store exactly what the ORM stores.

On PostgreSQL the rows travel by binary COPY (alerts through a temporary table of the
connection, then INSERT ... ON CONFLICT); on SQLite by executemany. Compared here in the
database's own words: JSON columns as their stored text, datetimes and floats as stored.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import JSON, Engine, Table, event, select, text
from sqlalchemy.exc import DataError, IntegrityError, StatementError
from sqlalchemy.orm import Session

from core.db import session_factory
from core.models import AlertOutbox, Classification, Incident, IncidentEvent, Message
from incidents import repository_bulk as bulk
from incidents.rows import COLUMNS, IncidentRow

AT = datetime(2026, 3, 2, 0, 0, 0, 123456, tzinfo=UTC)
VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")
# JSON values whose text must come out as `json.dumps(value, ensure_ascii=False)` does.
PAYLOADS: list[dict[str, Any]] = [
    {},
    {"reason": "текст", "score": 0.1, "tiny": 1e-07, "big": 10**20, "ok": True, "none": None},
    {"quote": 'он сказал "вода"\n\\ конец\t', "emoji": "🚰", "nested": [[1, 2.5], {"a": []}]},
]


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


def _stored(session: Session, table: Table, *, skip: Sequence[str] = ("id",)) -> list[str]:
    """The table's rows as stored (JSON columns as their text), in id order, as reprs (so
    NaN equals NaN)."""
    columns = [
        f"CAST({c.name} AS TEXT)" if isinstance(c.type, JSON) else c.name
        for c in table.columns
        if c.name not in skip
    ]
    stmt = text(f"SELECT {', '.join(columns)} FROM {table.name} ORDER BY id")
    return [repr(tuple(row)) for row in session.execute(stmt)]


def _incident(session: Session, *, incident_id: int) -> int:
    session.add(
        Incident(
            id=incident_id,
            number=f"T-{incident_id}",
            block_code="housing",
            title="Нет воды",
            sla_policy="social_normal",
            received_at=AT,
        )
    )
    session.flush()
    return incident_id


def _same_as_orm(
    session: Session, model: Any, rows: list[dict[str, Any]], write: Callable[[], None]
) -> None:
    """`write` (the bulk path) stores what adding `model(**row)` objects stores."""
    table = _table(model)
    with session.begin_nested() as savepoint:
        session.add_all([model(**row) for row in rows])
        session.flush()
        by_orm = _stored(session, table)
        savepoint.rollback()
    write()
    assert _stored(session, table) == by_orm
    assert len(by_orm) == len(rows)


def _event(incident_id: int, n: int, **values: Any) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "actor_id": None,
        "at": (AT + timedelta(minutes=n)).astimezone(VLADIVOSTOK),
        "action": "merged_message",
        "from_status": None if n % 2 else "new",
        "to_status": "assigned",
        "reason": None if n % 2 else "Причина «важная»",
        "payload": PAYLOADS[n % len(PAYLOADS)],
    } | values


def _alert(key: str, incident_id: int, user_id: int, **values: Any) -> dict[str, Any]:
    return {
        "kind": "assigned",
        "dedupe_key": key,
        "user_id": user_id,
        "incident_id": incident_id,
        "urgent": False,
        "payload": {"number": "МЦУ-2026-000001", "title": "Нет воды"},
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": AT,
        "created_at": AT,
    } | values


def _keys(session: Session) -> list[tuple[str, Any]]:
    stmt = select(AlertOutbox.dedupe_key, AlertOutbox.payload).order_by(AlertOutbox.id)
    return [tuple(row) for row in session.execute(stmt)]


def test_events_are_stored_as_the_orm_stores_them(incident_db: Session, world: Any) -> None:
    incident_id = _incident(incident_db, incident_id=7)
    rows = [_event(incident_id, n, actor_id=world.operator if n == 2 else None) for n in range(7)]
    table = _table(IncidentEvent)
    _same_as_orm(
        incident_db, IncidentEvent, rows, lambda: bulk.insert_rows(incident_db, table, rows=rows)
    )


def test_classifications_are_stored_as_the_orm_stores_them(
    incident_db: Session, world: Any
) -> None:
    message = Message(
        source_id=world.sources["vk"],
        external_id="m1",
        text="Нет воды",
        created_at=AT,
        received_at=AT,
    )
    incident_db.add(message)
    incident_db.flush()
    rows = [
        {
            "message_id": message.id,
            "block_code": "housing",
            "confidence": confidence,
            "top3": [["housing", 0.32103353941608004], ["roads", 0.1]],
            "urgent": n == 1,
            "noise": False,
            "needs_review": n == 2,
            "reasons": ["low_confidence:0.32"] if n else [],
            "place": {"settlement": {"value": "Амурзет", "start": 3, "end": 10}} if n else {},
            "model_version": "2026.11.21-1",
            "corrected_by": world.operator if n == 1 else None,
            "created_at": AT + timedelta(microseconds=n),
        }
        for n, confidence in enumerate([0.32103353941608004, 1, 0.0, math.inf])
    ]
    table = _table(Classification)
    _same_as_orm(
        incident_db, Classification, rows, lambda: bulk.insert_rows(incident_db, table, rows=rows)
    )


def test_alerts_are_stored_as_the_orm_stores_them(incident_db: Session, world: Any) -> None:
    incident_id = _incident(incident_db, incident_id=7)
    rows = [
        _alert(f"assigned:7:{n}", incident_id, world.executor, urgent=n == 1, payload=payload)
        for n, payload in enumerate(PAYLOADS)
    ]
    _same_as_orm(incident_db, AlertOutbox, rows, lambda: bulk.insert_alerts(incident_db, rows=rows))


def test_incidents_are_stored_as_the_orm_stores_them(incident_db: Session, world: Any) -> None:
    base = dict.fromkeys(COLUMNS) | {
        "block_code": "housing",
        "title": "Прорвало трубу — «срочно»",
        "status": "assigned",
        "urgent": False,
        "needs_review": True,
        "department_id": world.gkh,
        "sla_policy": "social_normal",
        "received_at": AT,
        "due_at": AT.astimezone(VLADIVOSTOK) + timedelta(days=1),
        "reopen_count": 0,
        "escalation_level": 0,
        "message_count": 1,
        "created_at": AT,
        "updated_at": AT,
    }
    rows = [
        base | {"id": 11, "number": "МЦУ-2026-000011", "lat": 48.1, "lon": 131.5},
        base | {"id": 12, "number": "МЦУ-2026-000012", "lat": math.nan, "settlement": "Пузино"},
        base | {"id": 13, "number": None, "text_fingerprint": "вода труба", "executor_id": None},
    ]
    table = _table(Incident)
    with incident_db.begin_nested() as savepoint:  # the same ids both ways
        incident_db.add_all([Incident(**row) for row in rows])
        incident_db.flush()
        by_orm = _stored(incident_db, table, skip=())
        savepoint.rollback()
    bulk.insert_incidents(incident_db, incidents=[IncidentRow.from_mapping(r) for r in rows])
    assert _stored(incident_db, table, skip=()) == by_orm


def test_an_alert_whose_key_exists_is_skipped_the_others_keep_their_order(
    incident_db: Session, world: Any
) -> None:
    incident_id = _incident(incident_db, incident_id=7)
    user = world.executor
    bulk.insert_alerts(
        incident_db,
        rows=[_alert(k, incident_id, user, payload={"n": 1}) for k in ("gone", "first")],
    )
    incident_db.execute(text("DELETE FROM alerts_outbox WHERE dedupe_key = 'gone'"))
    later = [_alert(k, incident_id, user, payload={"n": 2}) for k in ("b", "first", "a", "b")]
    bulk.insert_alerts(incident_db, rows=later)
    # The first call's rows are not written again; a key of the batch twice is written once.
    assert _keys(incident_db) == [("first", {"n": 1}), ("b", {"n": 2}), ("a", {"n": 2})]


def test_a_naive_datetime_is_refused_and_nothing_is_written(
    incident_db: Session, world: Any
) -> None:
    incident_id = _incident(incident_db, incident_id=7)
    naive = AT.replace(tzinfo=None)
    events = [_event(incident_id, 0), _event(incident_id, 1, at=naive)]
    with pytest.raises(StatementError, match="naive datetime") as refused:
        bulk.insert_rows(incident_db, _table(IncidentEvent), rows=events)
    assert isinstance(refused.value.orig, ValueError)
    alerts = [_alert("k", incident_id, world.executor, next_attempt_at=naive)]
    with pytest.raises(StatementError, match="naive datetime"):
        bulk.insert_alerts(incident_db, rows=alerts)
    # Refused before anything was sent: the transaction goes on.
    assert incident_db.scalar(text("SELECT count(*) FROM incident_events")) == 0
    assert incident_db.scalar(text("SELECT count(*) FROM alerts_outbox")) == 0


def test_rows_refer_to_objects_still_pending_in_the_session(
    incident_db: Session, world: Any
) -> None:
    incident_db.add(
        Incident(
            id=21,
            number="T-21",
            block_code="housing",
            title="Нет воды",
            sla_policy="social_normal",
            received_at=AT,
        )
    )  # not flushed: the bulk write flushes it first, as session.execute would
    bulk.insert_rows(incident_db, _table(IncidentEvent), rows=[_event(21, 0)])
    bulk.insert_alerts(incident_db, rows=[_alert("k", 21, world.executor)])
    assert incident_db.scalar(text("SELECT count(*) FROM incident_events")) == 1
    assert _keys(incident_db) == [("k", _alert("k", 21, 0)["payload"])]


def _only(engine: Engine, dialect: str, why: str) -> None:
    if engine.dialect.name != dialect:
        pytest.skip(why)


def _postgresql_only(engine: Engine) -> None:
    _only(engine, "postgresql", "COPY and its temporary table are PostgreSQL's")


def _sqlite_only(engine: Engine) -> None:
    _only(engine, "sqlite", "the executemany of pre-bound values is SQLite's path")


@contextmanager
def _executed(engine: Engine) -> Iterator[list[tuple[str, Any, bool]]]:
    """(statement, parameters, executemany?) of what the engine sends to the driver."""
    calls: list[tuple[str, Any, bool]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        calls.append((" ".join(statement.split()), params, many))

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield calls
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_postgresql_rows_go_by_copy_not_by_insert_statements(
    incident_db: Session, incident_engine: Engine, world: Any
) -> None:
    _postgresql_only(incident_engine)
    incident_id = _incident(incident_db, incident_id=7)
    with _executed(incident_engine) as calls:
        events = [_event(incident_id, n) for n in range(3)]
        bulk.insert_rows(incident_db, _table(IncidentEvent), rows=events)
        bulk.insert_alerts(incident_db, rows=[_alert("k", incident_id, world.executor)])
    inserts = [s for s, _, _ in calls if s.startswith(("INSERT", "WITH"))]
    # No INSERT of events at all; the alerts' one takes the staged rows.
    assert len(inserts) == 1 and "INSERT INTO alerts_outbox" in inserts[0]
    assert "FROM pg_temp.bulk_alerts_outbox" in inserts[0]
    assert incident_db.scalar(text("SELECT count(*) FROM incident_events")) == 3


def test_nan_in_json_is_refused_as_by_the_orm(
    incident_db: Session, incident_engine: Engine, world: Any
) -> None:
    _postgresql_only(incident_engine)
    incident_id = _incident(incident_db, incident_id=7)
    rows = [_event(incident_id, 0, payload={"lat": math.nan})]
    with pytest.raises(DataError, match="json"):  # PostgreSQL's JSON has no NaN
        bulk.insert_rows(incident_db, _table(IncidentEvent), rows=rows)
    incident_db.rollback()


def test_rows_follow_the_savepoint_they_were_written_in(
    incident_db: Session, incident_engine: Engine, world: Any
) -> None:
    _postgresql_only(incident_engine)
    incident_id = _incident(incident_db, incident_id=7)
    # The first use of the staging table on this connection, rolled back with its savepoint.
    incident_db.execute(text("DROP TABLE IF EXISTS pg_temp.bulk_alerts_outbox"))
    with incident_db.begin_nested() as savepoint:
        bulk.insert_alerts(incident_db, rows=[_alert("undone", incident_id, world.executor)])
        bulk.insert_rows(incident_db, _table(IncidentEvent), rows=[_event(incident_id, 0)])
        savepoint.rollback()
    bulk.insert_alerts(incident_db, rows=[_alert("kept", incident_id, world.executor)])
    incident_db.commit()
    assert [key for key, _ in _keys(incident_db)] == ["kept"]
    assert incident_db.scalar(text("SELECT count(*) FROM incident_events")) == 0
    # The commit emptied the staging table.
    assert incident_db.scalar(text("SELECT count(*) FROM pg_temp.bulk_alerts_outbox")) == 0


def _wait_for_lock(engine: Engine, pid: int) -> None:
    """Until the backend `pid` waits on a lock (another transaction's row)."""
    stmt = text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid")
    deadline = time.monotonic() + 20
    with engine.connect() as watcher:
        while time.monotonic() < deadline:
            if watcher.execute(stmt, {"pid": pid}).scalar() == "Lock":
                return
            watcher.rollback()
            time.sleep(0.02)
    raise AssertionError("the second worker never waited for the first")


def test_racing_workers_skip_a_key_the_other_one_wrote(
    incident_db: Session, incident_engine: Engine, world: Any
) -> None:
    _postgresql_only(incident_engine)
    incident_id = _incident(incident_db, incident_id=7)
    incident_db.commit()
    first = [_alert("same", incident_id, world.executor, payload={"by": 1})]
    bulk.insert_alerts(incident_db, rows=first)  # not committed yet
    other = session_factory(incident_engine)()
    pid = other.execute(text("SELECT pg_backend_pid()")).scalar_one()
    failed: list[BaseException] = []

    def second_worker() -> None:
        try:
            rows = [
                _alert("same", incident_id, world.executor, payload={"by": 2}),
                _alert("own", incident_id, world.executor, payload={"by": 2}),
            ]
            bulk.insert_alerts(other, rows=rows)
            other.commit()
        except BaseException as exc:  # reported by the main thread
            failed.append(exc)
            other.rollback()

    worker = threading.Thread(target=second_worker)
    worker.start()
    try:
        _wait_for_lock(incident_engine, pid)  # it waits for the first worker's key
        incident_db.commit()
    finally:
        incident_db.rollback()  # lets the second worker go if the wait failed
        worker.join(timeout=20)
        other.close()
    assert not worker.is_alive() and not failed
    assert _keys(incident_db) == [("same", {"by": 1}), ("own", {"by": 2})]


def test_sqlite_rows_go_in_one_executemany_of_values_already_bound(
    incident_db: Session, incident_engine: Engine, world: Any
) -> None:
    _sqlite_only(incident_engine)
    incident_id = _incident(incident_db, incident_id=7)
    rows = [_event(incident_id, n) for n in range(3)]
    with _executed(incident_engine) as calls:
        bulk.insert_rows(incident_db, _table(IncidentEvent), rows=rows)
    [(statement, params, many)] = [c for c in calls if c[0].startswith("INSERT")]
    assert many and statement.startswith("INSERT INTO incident_events (")
    names = statement[statement.index("(") + 1 : statement.index(")")].split(", ")
    first, second = (dict(zip(names, values, strict=True)) for values in params[:2])
    # What the driver gets: the UTC text of the Vladivostok times, the JSON columns' text.
    assert first["at"] == "2026-03-02 00:00:00.123456"
    assert second["payload"] == json.dumps(PAYLOADS[1], ensure_ascii=False)
    assert len(params) == 3


def test_sqlite_keeps_nan_in_json_as_the_orm_stores_it(
    incident_db: Session, incident_engine: Engine, world: Any
) -> None:
    # PostgreSQL's JSON has no NaN: test_nan_in_json_is_refused_as_by_the_orm.
    _sqlite_only(incident_engine)
    incident_id = _incident(incident_db, incident_id=7)
    rows = [_event(incident_id, 0, payload={"lat": math.nan, "items": [math.inf]})]
    table = _table(IncidentEvent)
    _same_as_orm(
        incident_db, IncidentEvent, rows, lambda: bulk.insert_rows(incident_db, table, rows=rows)
    )


@pytest.mark.parametrize("value", ["2026-03-02", 1772409600, AT.date()])
def test_a_time_that_is_no_datetime_fails_as_on_the_orm_path_and_writes_nothing(
    incident_db: Session, world: Any, value: Any
) -> None:
    incident_id = _incident(incident_db, incident_id=7)
    rows = [_event(incident_id, 0), _event(incident_id, 1, at=value)]
    with pytest.raises(StatementError):
        bulk.insert_rows(incident_db, _table(IncidentEvent), rows=rows)
    assert incident_db.scalar(text("SELECT count(*) FROM incident_events")) == 0


def test_sqlite_refuses_a_datetime_inside_json_as_the_orm_does(
    incident_db: Session, incident_engine: Engine, world: Any
) -> None:
    # (PostgreSQL's bulk path writes it as ISO 8601 text, as `recordset` does.)
    _sqlite_only(incident_engine)
    incident_id = _incident(incident_db, incident_id=7)
    rows = [_event(incident_id, 0), _event(incident_id, 1, payload={"at": AT})]
    with pytest.raises(StatementError, match="not JSON serializable"):
        bulk.insert_rows(incident_db, _table(IncidentEvent), rows=rows)
    assert incident_db.scalar(text("SELECT count(*) FROM incident_events")) == 0


def test_sqlite_database_errors_keep_sqlalchemy_types(
    incident_db: Session, incident_engine: Engine, world: Any
) -> None:
    _sqlite_only(incident_engine)
    # No incident 404: the foreign key refuses the row; callers catch SQLAlchemy's errors.
    with pytest.raises(IntegrityError, match="FOREIGN KEY"):
        bulk.insert_rows(incident_db, _table(IncidentEvent), rows=[_event(404, 0)])


def test_joined_incidents_are_updated_as_the_orm_updates_them(
    incident_db: Session, world: Any
) -> None:
    ids = [_incident(incident_db, incident_id=n) for n in (7, 8)]
    table = _table(Incident)
    locked = bulk.lock_incidents(incident_db, ids=ids)
    for n, row in enumerate(locked.values()):
        row.message_count, row.settlement, row.lat = 2 + n, "Амурзет", 48.1 + n
        row.text_fingerprint = "вода труба «срочно»"
        row.updated_at = (AT + timedelta(hours=n)).astimezone(VLADIVOSTOK)
    columns = ("message_count", "settlement", "lat", "text_fingerprint", "updated_at")
    with incident_db.begin_nested() as savepoint:
        for row in locked.values():
            incident = incident_db.get(Incident, row.id)
            assert incident is not None
            for name in columns:
                setattr(incident, name, getattr(row, name))
        incident_db.flush()
        by_orm = _stored(incident_db, table, skip=())
        savepoint.rollback()
    incident_db.expire_all()
    bulk.update_incidents(incident_db, incidents=list(locked.values()), columns=columns)
    assert _stored(incident_db, table, skip=()) == by_orm
    # A naive time is refused as the ORM refuses it, and nothing is changed.
    first = locked[7]
    first.updated_at, first.message_count = AT.replace(tzinfo=None), 99
    with pytest.raises(StatementError, match="naive datetime"):
        bulk.update_incidents(incident_db, incidents=[first], columns=columns)
    assert _stored(incident_db, table, skip=()) == by_orm
