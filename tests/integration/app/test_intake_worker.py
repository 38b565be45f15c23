"""The intake job as `mcu worker` runs it: batches committed one by one, classification read
ahead by a helper process, and two worker processes on one PostgreSQL (each with its writes
overlapped, app.overlap)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import pipeline
from app.context import AppContext
from app.demo import ensure_demo_users
from app.jobs import run_batches
from app.models import active_classifier, gazetteer
from app.readahead import classify_texts, read_ahead, read_texts
from collectors.repository import claim_new_messages, ensure_source, store_messages
from core.db import session_factory
from core.models import AlertOutbox, Classification, Incident, IncidentEvent, Message
from core.types import RawMessage

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Wednesday 12:00 in Амурзет
ROOT = Path(__file__).resolve().parents[3]
TEXTS = [
    "В Амурзете на ул. Ленина 15 прорвало трубу, вода хлещет в подвал",
    "Огромная яма на дороге по ул. Гагарина в Амурзете, машины бьют колёса",
    "Спасибо администрации за праздник, всё было замечательно!",
    "Нет света на всей улице Советской в Амурзете с утра",
    "Мусор не вывозят вторую неделю, контейнеры переполнены, с. Пузино",
    "Автобус до Биробиджана опять не пришёл по расписанию",
    "Повторно пишу: в Амурзете на ул. Ленина 15 прорвало трубу, вода хлещет в подвал",
]


def _store(session: Session, count: int) -> None:
    source = ensure_source(session, name="test-vk", kind="vk")
    raw = [
        RawMessage(
            source=source.name,
            external_id=str(i),
            text=f"{TEXTS[i % len(TEXTS)]} ({i // len(TEXTS)})",
            created_at=NOW,
        )
        for i in range(count)
    ]
    store_messages(session, source=source, messages=raw, now=NOW)
    session.commit()


def _drain(ctx: AppContext) -> dict[str, int]:
    total: Counter[str] = Counter()
    while True:
        stats = run_batches(
            ctx, "process_messages", pipeline.process_pending, budget_seconds=60, now=NOW
        )
        total.update({k: v for k, v in stats.items() if isinstance(v, int) and k != "more"})
        if not stats["more"]:
            return dict(total)


def test_the_helper_classifies_ahead_exactly_as_the_worker_would(
    app_ctx: AppContext, seeded_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "PROCESS_BATCH", 4)
    _store(seeded_session, 14)
    model = active_classifier(app_ctx)
    assert model is not None
    ahead = read_ahead(app_ctx, model)
    try:
        assert ahead.wait_ready()
        stats = _drain(app_ctx)
    finally:
        ahead.close()
    assert stats["processed"] == 14 and stats["failed"] == 0
    assert ahead.used >= 8  # every batch after the first came from the helper
    seeded_session.expire_all()
    rows = seeded_session.execute(
        select(Message.text, Classification.block_code, Classification.confidence)
        .add_columns(Classification.place, Classification.reasons, Classification.urgent)
        .join(Classification, Classification.message_id == Message.id)
        .order_by(Message.id)
    ).all()
    here = classify_texts(model, gazetteer(app_ctx), [row[0] for row in rows])
    assert len(rows) == 14
    for row, values in zip(rows, here, strict=True):
        assert row[1:] == (
            values["block_code"],
            pytest.approx(values["confidence"]),
            values["place"],
            values["reasons"],
            values["urgent"],
        )


def test_a_message_whose_text_differs_from_the_read_ahead_is_classified_here(
    app_ctx: AppContext,
) -> None:
    model = active_classifier(app_ctx)
    assert model is not None
    ahead = read_ahead(app_ctx, model)
    try:
        assert ahead.wait_ready()
        ahead.prefetch([(1, TEXTS[0]), (2, TEXTS[1])])
        claimed = [Message(id=1, text=TEXTS[0]), Message(id=2, text=TEXTS[2])]
        got = ahead.classify(model, gazetteer(app_ctx), claimed)
    finally:
        ahead.close()
    assert ahead.used == 1
    # The first from the helper, with its text facts; the second here, without.
    [ahead_read] = read_texts(model, gazetteer(app_ctx), [TEXTS[0]])
    [here] = classify_texts(model, gazetteer(app_ctx), [TEXTS[2]])
    assert got == [ahead_read, (here, None)]


def test_batches_run_until_no_more_work_and_sum_their_counts(app_ctx: AppContext) -> None:
    left = [3]

    def body(_ctx: AppContext, _session: Session, _now: datetime) -> dict[str, object]:
        left[0] -= 1
        return {"processed": 2, "left": f"{left[0]} left", "more": left[0] > 0}

    result = run_batches(app_ctx, "test_batches", body, budget_seconds=60, now=NOW)
    assert result == {"processed": 6, "left": "0 left", "more": False}  # counts add up
    left[0] = 5
    cut = run_batches(app_ctx, "test_batches", body, budget_seconds=0, now=NOW)
    assert cut == {"processed": 2, "left": "4 left", "more": True}  # the budget ends the run


def test_two_sessions_claim_disjoint_batches(app_ctx: AppContext, seeded_session: Session) -> None:
    if app_ctx.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite runs one worker")
    _store(seeded_session, 10)
    first = session_factory(app_ctx.engine)()
    second = session_factory(app_ctx.engine)()
    try:
        a = {m.id for m in claim_new_messages(first, limit=6)}
        b = {m.id for m in claim_new_messages(second, limit=6)}
    finally:
        first.rollback()
        second.rollback()
        first.close()
        second.close()
    assert len(a) == 6 and len(b) == 4 and a.isdisjoint(b)


CHILD = """
import json, sys
from datetime import datetime
from app import pipeline
from app.context import AppContext, load_calendar
from app.overlap import run_intake
from config.reference import load_reference
from config.settings import CONFIG_DIR, Settings
from core.db import make_engine

url, models, now = sys.argv[1], sys.argv[2], datetime.fromisoformat(sys.argv[3])
pipeline.PROCESS_BATCH = 5
reference = load_reference(CONFIG_DIR)
tz = reference.municipality.municipality.timezone
ctx = AppContext(
    settings=Settings(models_dir=models, secret_key="test", database_url="sqlite://"),
    config=reference,
    engine=make_engine(url),
    calendar=load_calendar(reference, tz=tz, config_dir=str(CONFIG_DIR)),
    tz=tz,
)
processed = 0
while True:
    stats = run_intake(ctx, budget_seconds=1, now=now)  # as the scheduler runs it
    processed += stats.get("processed", 0)
    if not stats["more"] and "skipped" not in stats:
        break
helper = ctx.cache.get("readahead")
if helper is not None:
    helper.close()
print(json.dumps({"processed": processed}))
"""


def test_two_worker_processes_take_each_message_exactly_once(
    app_ctx: AppContext, seeded_session: Session
) -> None:
    if app_ctx.engine.dialect.name != "postgresql":
        pytest.skip("two workers need PostgreSQL (SKIP LOCKED and the job guard)")
    ensure_demo_users(seeded_session)
    seeded_session.commit()
    _store(seeded_session, 70)
    url = app_ctx.engine.url.render_as_string(hide_password=False)
    args = [sys.executable, "-c", CHILD, url, str(app_ctx.settings.models_dir), NOW.isoformat()]
    workers = [
        subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    processed = [json.loads(out.strip().splitlines()[-1])["processed"] for out, _ in outputs]
    assert sum(processed) == 70
    seeded_session.expire_all()
    statuses = Counter(seeded_session.scalars(select(Message.status)))
    assert set(statuses) <= {"linked", "classified"} and sum(statuses.values()) == 70
    per_message = Counter(seeded_session.scalars(select(Classification.message_id)))
    assert len(per_message) == 70 and set(per_message.values()) == {1}
    incidents = int(seeded_session.scalar(select(func.count()).select_from(Incident)) or 0)
    created = seeded_session.scalar(select(func.count()).where(IncidentEvent.action == "created"))
    linked = seeded_session.scalar(select(func.sum(Incident.message_count)))
    assert created == incidents and linked == statuses["linked"]
    merged = int(
        seeded_session.scalar(select(func.count()).where(IncidentEvent.action == "merged_message"))
        or 0
    )
    assert incidents + merged == statuses["linked"]
    new_alerts = seeded_session.scalars(
        select(AlertOutbox.incident_id).where(AlertOutbox.kind == "new_incident")
    )
    assert set(new_alerts) <= set(seeded_session.scalars(select(Incident.id)))
