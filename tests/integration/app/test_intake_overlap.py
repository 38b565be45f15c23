"""The intake job with a batch's writes overlapping the next batch's decisions (PostgreSQL):
the same incidents as batches in turn, nothing lost when a write fails, one run at a time."""

from __future__ import annotations

import gc
import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app import overlap, pipeline
from app.context import AppContext
from app.demo import ensure_demo_users
from app.jobs import lock_key, run_batches
from collectors.repository import ensure_source, store_messages
from core.models import AlertOutbox, Classification, Incident, IncidentEvent, Message, Source
from core.types import RawMessage
from incidents import repository_bulk

T0 = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)  # Monday 12:00 in Амурзет
# A second copy of the stream, received beyond the 72 h duplicate window of the first.
T1 = T0 + timedelta(days=7)
# Repeats of one problem every few messages: later batches join incidents opened by the
# batch just before them, which is still being written when they are decided.
TEXTS = [
    "В Амурзете на ул. Ленина 15 прорвало трубу, вода хлещет в подвал",
    "Огромная яма на дороге по ул. Гагарина в Амурзете, машины бьют колёса",
    "Нет света на всей улице Советской в Амурзете с утра",
    "Повторно: в Амурзете на ул. Ленина 15 прорвало трубу, вода хлещет в подвал",
    "Мусор не вывозят вторую неделю, контейнеры переполнены, с. Пузино",
    "Опять яма на дороге по ул. Гагарина в Амурзете, машины бьют колёса",
    "Спасибо администрации за праздник, всё было замечательно!",
    "На улице Советской в Амурзете нет света с утра, холодильники текут",
    "Автобус до Биробиджана опять не пришёл по расписанию",
]
COUNT = 27
BATCH = 4


@pytest.fixture
def pg_ctx(app_ctx: AppContext, seeded_session: Session) -> AppContext:
    if app_ctx.engine.dialect.name != "postgresql":
        pytest.skip("the overlap is PostgreSQL's; SQLite writes one batch after the other")
    ensure_demo_users(seeded_session)  # sector heads and executors: alerts are written
    seeded_session.commit()
    return app_ctx


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "PROCESS_BATCH", BATCH)


def _store(session: Session, *, source: str, now: datetime) -> None:
    target = ensure_source(session, name=source, kind="vk")
    raw = [
        RawMessage(source=source, external_id=str(i), text=TEXTS[i % len(TEXTS)], created_at=now)
        for i in range(COUNT)
    ]
    store_messages(session, source=target, messages=raw, now=now)
    session.commit()


def _drain_overlapped(ctx: AppContext, now: datetime) -> Counter[str]:
    total: Counter[str] = Counter()
    while True:
        stats = overlap.run_intake(ctx, budget_seconds=60, now=now)
        assert "skipped" not in stats
        total.update({k: v for k, v in stats.items() if isinstance(v, int) and k != "more"})
        if not stats["more"]:
            return total


def _drain_in_turn(ctx: AppContext, now: datetime) -> Counter[str]:
    total: Counter[str] = Counter()
    while True:
        stats = run_batches(
            ctx, "process_messages", pipeline.process_pending, budget_seconds=60, now=now
        )
        total.update({k: v for k, v in stats.items() if isinstance(v, int) and k != "more"})
        if not stats["more"]:
            return total


def _outcome(session: Session, source: str) -> list[tuple[Any, ...]]:
    """Per message in order: which earlier message's incident it belongs to, and that
    incident's words, place, count, events and alerts (ids and deadlines left out)."""
    session.expire_all()
    messages = session.execute(
        select(Message.external_id, Message.status, Message.incident_id)
        .join(Source, Source.id == Message.source_id)
        .where(Source.name == source)
        .order_by(Message.id)
    ).all()
    first: dict[int, str] = {}
    for external_id, _status, incident_id in messages:
        if incident_id is not None:
            first.setdefault(incident_id, external_id)
    events: dict[int, list[str]] = defaultdict(list)
    for incident_id, action in session.execute(
        select(IncidentEvent.incident_id, IncidentEvent.action).where(
            IncidentEvent.incident_id.in_(first)
        )
    ):
        events[incident_id].append(action)
    alerts: dict[int, list[tuple[str, int | None]]] = defaultdict(list)
    for incident_id, kind, user_id in session.execute(
        select(AlertOutbox.incident_id, AlertOutbox.kind, AlertOutbox.user_id).where(
            AlertOutbox.incident_id.in_(first)
        )
    ):
        alerts[incident_id].append((kind, user_id))
    incidents = {
        i.id: (
            i.block_code,
            i.status,
            i.message_count,
            i.text_fingerprint,
            (i.settlement, i.street, i.house),
            i.urgent,
            i.sla_policy,
        )
        for i in session.scalars(select(Incident).where(Incident.id.in_(first)))
    }
    return [
        (
            external_id,
            status,
            None if incident_id is None else first[incident_id],
            None if incident_id is None else incidents[incident_id],
            None if incident_id is None else sorted(events[incident_id]),
            None if incident_id is None else sorted(alerts[incident_id], key=str),
        )
        for external_id, status, incident_id in messages
    ]


@pytest.fixture
def writes_wait_for_the_next_decisions(monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch's write starts only once the next batch is decided (or the run ends), so
    every batch after the first is decided while the one before is uncommitted."""
    gates: dict[int, threading.Event] = {}
    write, written = overlap.write_and_commit, overlap._InFlight.written

    def gated_write(decided: pipeline.DecidedBatch) -> overlap.Written:
        assert gates.setdefault(id(decided), threading.Event()).wait(timeout=60)
        return write(decided)

    def open_gate(self: overlap._InFlight) -> overlap.Written:
        gates.setdefault(self._decided_id, threading.Event()).set()
        return written(self)

    init = overlap._InFlight.__init__

    def remember(self: overlap._InFlight, writer: Any, decided: pipeline.DecidedBatch) -> None:
        self._decided_id = id(decided)  # type: ignore[attr-defined]
        init(self, writer, decided)

    monkeypatch.setattr(overlap, "write_and_commit", gated_write)
    monkeypatch.setattr(overlap._InFlight, "written", open_gate)
    monkeypatch.setattr(overlap._InFlight, "__init__", remember)


@pytest.fixture
def carries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many new incidents of the batch in flight each batch's decisions were given."""
    seen: list[int] = []
    decide = pipeline.decide_messages

    def spy(*args: Any, **kwargs: Any) -> pipeline.DecidedBatch:
        in_flight = kwargs.get("in_flight")
        carry = in_flight.carry() if in_flight is not None else None
        seen.append(len(carry.new) if carry is not None else 0)
        return decide(*args, **kwargs)

    monkeypatch.setattr(pipeline, "decide_messages", spy)
    yield seen


def test_overlapped_batches_make_the_incidents_batches_in_turn_make(
    pg_ctx: AppContext,
    seeded_session: Session,
    writes_wait_for_the_next_decisions: None,
    carries: list[int],
) -> None:
    _store(seeded_session, source="in-turn", now=T0)
    in_turn = _drain_in_turn(pg_ctx, T0)
    carries.clear()
    _store(seeded_session, source="overlapped", now=T1)
    overlapped = _drain_overlapped(pg_ctx, T1)
    assert overlapped == in_turn
    assert in_turn["processed"] == COUNT and in_turn["merged"] >= 8  # repeats joined
    assert sum(carries) > 0  # decisions were made over new incidents not yet committed
    expected = _outcome(seeded_session, "in-turn")
    assert _outcome(seeded_session, "overlapped") == expected
    # An incident's messages span batches: joins of the batch in flight's new incidents.
    groups = Counter(row[2] for row in expected if row[2] is not None)
    assert max(groups.values()) >= 3


def test_a_batch_decided_on_a_failed_batch_is_decided_again(
    pg_ctx: AppContext,
    seeded_session: Session,
    monkeypatch: pytest.MonkeyPatch,
    writes_wait_for_the_next_decisions: None,
    carries: list[int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _store(seeded_session, source="in-turn", now=T0)
    _drain_in_turn(pg_ctx, T0)
    # The second batch's finish fails once: its messages are taken one by one, and the third
    # batch, decided over the second's carry, must not be written as decided.
    insert_alerts, calls = repository_bulk.insert_alerts, [0]

    def fails_once(session: Session, *, rows: Any) -> None:
        calls[0] += 1
        if calls[0] == 2:
            raise RuntimeError("alerts table unavailable")
        insert_alerts(session, rows=rows)

    monkeypatch.setattr(repository_bulk, "insert_alerts", fails_once)
    _store(seeded_session, source="overlapped", now=T1)
    carries.clear()
    with caplog.at_level(logging.WARNING, logger="mcu.overlap"):
        stats = _drain_overlapped(pg_ctx, T1)
    assert any("decided again" in r.getMessage() for r in caplog.records)
    batches = -(-COUNT // BATCH)
    assert len(carries) == batches + 1  # the third batch was decided twice
    assert stats["processed"] == COUNT and stats["failed"] == 0
    assert _outcome(seeded_session, "overlapped") == _outcome(seeded_session, "in-turn")


def test_a_failed_write_stops_the_run_and_loses_nothing(
    pg_ctx: AppContext, seeded_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _store(seeded_session, source="overlapped", now=T0)
    commit, calls = overlap.write_and_commit, [0]

    def commit_fails_once(decided: pipeline.DecidedBatch) -> overlap.Written:
        calls[0] += 1
        if calls[0] == 2:
            decided.session.rollback()
            decided.session.close()
            raise ConnectionError("server closed the connection")
        return commit(decided)

    monkeypatch.setattr(overlap, "write_and_commit", commit_fails_once)
    with pytest.raises(ConnectionError):
        overlap.run_intake(pg_ctx, budget_seconds=60, now=T0)
    seeded_session.expire_all()
    statuses = Counter(seeded_session.scalars(select(Message.status)))
    assert statuses["new"] >= BATCH  # the failed batch is new again, not half written
    rest = _drain_overlapped(pg_ctx, T0)
    assert rest["processed"] == statuses["new"]
    seeded_session.expire_all()
    done = Counter(seeded_session.scalars(select(Message.status)))
    assert set(done) <= {"linked", "classified"} and sum(done.values()) == COUNT
    per_message = Counter(seeded_session.scalars(select(Classification.message_id)))
    assert len(per_message) == COUNT and set(per_message.values()) == {1}
    incidents = seeded_session.scalars(select(Incident)).all()
    created = seeded_session.scalars(
        select(IncidentEvent.incident_id).where(IncidentEvent.action == "created")
    ).all()
    assert sorted(created) == sorted(i.id for i in incidents)  # each incident once, with its event
    assert sum(i.message_count for i in incidents) == done["linked"]


def test_one_run_at_a_time(pg_ctx: AppContext, seeded_session: Session) -> None:
    _store(seeded_session, source="overlapped", now=T0)
    with pg_ctx.engine.connect() as other:
        other.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key("process_messages")})
        other.commit()
        assert overlap.run_intake(pg_ctx, budget_seconds=60, now=T0) == {
            "skipped": "выполняется другим процессом",
            "more": False,
        }
        other.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key("process_messages")})
        other.commit()
    assert _drain_overlapped(pg_ctx, T0)["processed"] == COUNT
    with pg_ctx.engine.connect() as after:  # the run let its lock go
        assert after.scalar(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")) == 0


def test_sqlite_or_the_setting_off_take_batches_in_turn(
    app_ctx: AppContext, seeded_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    if app_ctx.engine.dialect.name == "postgresql":
        monkeypatch.setattr(app_ctx.settings, "intake_overlap", False)
    started: list[str] = []
    monkeypatch.setattr(overlap, "_overlapped", lambda *a, **k: started.append("overlap"))
    _store(seeded_session, source="in-turn", now=T0)
    assert _drain_overlapped(app_ctx, T0)["processed"] == COUNT
    assert started == []


def test_a_run_ends_when_its_budget_is_spent_and_says_more_is_left(
    pg_ctx: AppContext, seeded_session: Session
) -> None:
    _store(seeded_session, source="overlapped", now=T0)
    first = overlap.run_intake(pg_ctx, budget_seconds=0, now=T0)
    assert first["processed"] == BATCH and first["more"] is True  # one batch, then it stops
    seeded_session.expire_all()
    statuses = Counter(seeded_session.scalars(select(Message.status)))
    assert statuses["new"] == COUNT - BATCH  # the batch it took is committed, no other
    assert _drain_overlapped(pg_ctx, T0)["processed"] == COUNT - BATCH


def test_a_run_decides_with_the_collector_paused_and_switches_it_back_on(
    app_ctx: AppContext, seeded_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On both paths (overlapped on PostgreSQL, in turn on SQLite), also when a batch fails."""
    seen: list[bool] = []
    decide, in_turn = overlap.claim_and_decide, overlap.process_pending

    def watched_decide(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return decide(*args, **kwargs)

    def watched_in_turn(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return in_turn(*args, **kwargs)

    monkeypatch.setattr(overlap, "claim_and_decide", watched_decide)
    monkeypatch.setattr(overlap, "process_pending", watched_in_turn)
    _store(seeded_session, source="paused", now=T0)
    gc.enable()
    assert _drain_overlapped(app_ctx, T0)["processed"] == COUNT
    assert len(seen) >= -(-COUNT // BATCH) and not any(seen)
    assert gc.isenabled()

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("server closed the connection")

    monkeypatch.setattr(overlap, "claim_and_decide", failing)
    monkeypatch.setattr(overlap, "process_pending", failing)
    _store(seeded_session, source="paused-again", now=T1)
    with pytest.raises(ConnectionError):
        overlap.run_intake(app_ctx, budget_seconds=60, now=T1)
    assert gc.isenabled()
