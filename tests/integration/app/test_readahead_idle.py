"""The classification helper (app.readahead) stops when idle and a later backlog starts it again:
the real helper process exits, a new one serves the next backlog, and no message is lost or
classified twice across the stop."""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import pipeline
from app.context import AppContext
from app.jobs import run_batches
from app.models import ActiveModel, PlaceFinder, active_classifier, gazetteer
from app.readahead import ReadAhead, classify_texts, read_texts
from classifier.place import Gazetteer
from classifier.registry import ModelRegistry
from collectors.repository import ensure_source, store_messages
from config.reference import ReferenceConfig
from core.models import Classification, Message
from core.types import RawMessage

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
IDLE = 60.0  # the test helpers' idle period, in seconds of the fake clock
TEXTS = [
    "В Амурзете на ул. Ленина 15 прорвало трубу, вода хлещет в подвал",
    "Огромная яма на дороге по ул. Гагарина в Амурзете, машины бьют колёса",
    "Спасибо администрации за праздник, всё было замечательно!",
    "Нет света на всей улице Советской в Амурзете с утра",
    "Мусор не вывозят вторую неделю, контейнеры переполнены, с. Пузино",
]


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _exited(pid: int, timeout: float = 15.0) -> bool:
    """Whether the process is gone (exited and reaped) within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def model(models_dir: Path) -> ActiveModel:
    return ActiveModel(ModelRegistry(models_dir).load_active(), threshold=0.5)


@pytest.fixture
def places(reference_config: ReferenceConfig) -> PlaceFinder:
    return PlaceFinder(Gazetteer.from_mapping(reference_config.gazetteer))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def helper(
    models_dir: Path, reference_config: ReferenceConfig, model: ActiveModel, clock: FakeClock
) -> Iterator[ReadAhead]:
    ahead = ReadAhead(
        models_dir=models_dir,
        version=model.version,
        threshold=model.threshold,
        gazetteer=reference_config.gazetteer,
        idle_seconds=IDLE,
        clock=clock,
    )
    yield ahead
    ahead.close()


def test_the_helper_process_is_stopped_after_the_idle_period(
    helper: ReadAhead, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    assert helper.stop_if_idle() is False  # never started: nothing to stop
    clock.now += IDLE * 10
    assert helper.wait_ready()
    [pid] = helper.pids
    clock.now += IDLE - 1
    assert helper.stop_if_idle() is False and _alive(pid)  # starting counts as asked for
    helper.prefetch([(1, TEXTS[0])])
    clock.now += IDLE - 1
    assert helper.stop_if_idle() is False and _alive(pid)  # the prefetch moved the period on
    clock.now += 2
    with caplog.at_level(logging.INFO, logger="mcu.readahead"):
        assert helper.stop_if_idle() is True
    assert not helper.running and helper.pids == [] and not helper.ready
    assert _exited(pid), f"helper process {pid} still exists"
    assert any(r.levelno == logging.INFO and "idle" in r.getMessage() for r in caplog.records), (
        caplog.text
    )
    assert helper.stop_if_idle() is False  # already stopped
    helper.close()  # the worker's exit path still works on a stopped helper


def test_a_later_backlog_starts_a_new_helper_whose_results_are_used(
    helper: ReadAhead, clock: FakeClock, model: ActiveModel, places: PlaceFinder
) -> None:
    assert helper.wait_ready()
    [first] = helper.pids
    # Handed over, then the helper stops before the batch is claimed: classified here.
    helper.prefetch([(1, TEXTS[0]), (2, TEXTS[1])])
    clock.now += IDLE + 1
    assert helper.stop_if_idle() and _exited(first)
    claimed = [Message(id=1, text=TEXTS[0]), Message(id=2, text=TEXTS[1])]
    # Classified here: without text facts (intake works them out as it goes).
    here = classify_texts(model, places, [TEXTS[0], TEXTS[1]])
    assert helper.classify(model, places, claimed) == [(one, None) for one in here]
    assert helper.used == 0
    # The next backlog: its first prefetch starts a helper (as the very first one did) ...
    helper.prefetch([(3, TEXTS[2])])
    assert helper.running
    [second] = helper.pids
    assert second != first
    assert helper.wait_ready()
    # ... and once it is up, its classification is the one used.
    helper.prefetch([(3, TEXTS[2]), (4, TEXTS[3]), (5, TEXTS[4])])
    claimed = [Message(id=i, text=TEXTS[i - 1]) for i in (3, 4, 5)]
    got = helper.classify(model, places, claimed)
    # The helper's values and text facts, come through the pipe, are those worked out here.
    assert got == read_texts(model, places, TEXTS[2:5])
    assert any(facts is not None and facts.words for _, facts in got)
    assert helper.used == 3
    helper.close()  # what the worker does at exit: the new helper goes too
    assert not helper.running and _exited(second)


def _store(session: Session, first: int, count: int) -> None:
    source = ensure_source(session, name="test-vk", kind="vk")
    raw = [
        RawMessage(
            source=source.name,
            external_id=str(i),
            text=f"{TEXTS[i % len(TEXTS)]} ({i // len(TEXTS)})",
            created_at=NOW,
        )
        for i in range(first, first + count)
    ]
    store_messages(session, source=source, messages=raw, now=NOW)
    session.commit()


def _run(ctx: AppContext, budget: float = 60) -> dict[str, object]:
    return run_batches(
        ctx, "process_messages", pipeline.process_pending, budget_seconds=budget, now=NOW
    )


def _drain(ctx: AppContext) -> int:
    processed = 0
    while True:
        stats = _run(ctx)
        processed += int(stats.get("processed", 0))  # type: ignore[call-overload]
        if not stats["more"]:
            return processed


def test_no_message_is_lost_or_classified_twice_across_an_idle_stop(
    app_ctx: AppContext,
    seeded_session: Session,
    monkeypatch: pytest.MonkeyPatch,
    clock: FakeClock,
) -> None:
    monkeypatch.setattr(pipeline, "PROCESS_BATCH", 4)
    model = active_classifier(app_ctx)
    assert model is not None
    helper = ReadAhead(
        models_dir=app_ctx.settings.models_dir,
        version=model.version,
        threshold=model.threshold,
        gazetteer=app_ctx.config.gazetteer,
        idle_seconds=IDLE,
        clock=clock,
    )
    app_ctx.cache["readahead"] = helper  # what read_ahead() finds and keeps using
    try:
        _store(seeded_session, 0, 14)
        assert helper.wait_ready()
        [first] = helper.pids
        assert _drain(app_ctx) == 14
        used = helper.used
        assert used >= 8 and helper.running  # the backlog was read ahead; not idle yet
        clock.now += IDLE + 1
        assert _run(app_ctx)["more"] is False  # an intake run with nothing to do
        assert not helper.running and _exited(first)
        assert app_ctx.cache["readahead"] is helper
        # A second backlog: its first full batch starts a new helper.
        _store(seeded_session, 14, 19)
        first_batch = _run(app_ctx, budget=0)
        assert first_batch["processed"] == 4 and first_batch["more"] is True
        [second] = helper.pids
        assert second != first
        assert helper.wait_ready()
        assert 4 + _drain(app_ctx) == 19
        assert helper.used > used  # the new helper's classifications were used
    finally:
        helper.close()
    assert _exited(second)
    seeded_session.expire_all()
    statuses = Counter(seeded_session.scalars(select(Message.status)))
    assert set(statuses) <= {"linked", "classified"} and sum(statuses.values()) == 33
    per_message = Counter(seeded_session.scalars(select(Classification.message_id)))
    assert len(per_message) == 33 and set(per_message.values()) == {1}
    rows = seeded_session.execute(
        select(Message.text, Classification.block_code, Classification.place)
        .join(Classification, Classification.message_id == Message.id)
        .order_by(Message.id)
    ).all()
    here = classify_texts(model, gazetteer(app_ctx), [row[0] for row in rows])
    assert [(row[1], row[2]) for row in rows] == [(v["block_code"], v["place"]) for v in here]
