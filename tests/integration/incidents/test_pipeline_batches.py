"""Batched writes of the intake path: the message store, and a worker batch with its fallback."""

from __future__ import annotations

from datetime import UTC, datetime
from math import nan
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from app import pipeline
from app.context import AppContext, load_calendar
from app.demo import ensure_demo_users
from classifier.model import Prediction
from collectors.repository import ensure_source, store_messages
from config.reference import ReferenceConfig
from config.settings import CONFIG_DIR, Settings
from core.models import AlertOutbox, Classification, Incident, IncidentEvent, Message
from core.types import Geo, RawMessage
from incidents import batch as batch_module
from incidents import intake

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Wednesday 12:00 in Амурзет


def _raw(external_id: str, text: str = "Яма на ул. Ленина") -> RawMessage:
    return RawMessage(source="vk-test", external_id=external_id, text=text, created_at=NOW)


def _count(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_batch_store_counts_new_and_repeated_rows(db_session: Session) -> None:
    source = ensure_source(db_session, name="vk-test", kind="vk")
    assert store_messages(db_session, source=source, messages=[], now=NOW) == (0, 0)
    first = [_raw(str(i)) for i in range(0, 1500, 2)]  # 750 rows
    assert store_messages(db_session, source=source, messages=first, now=NOW) == (750, 0)
    # 2500 rows (more than one VALUES page): 750 stored before, 1250 new, 500 repeated in
    # the batch itself, where the first copy wins.
    mixed = [_raw(str(i), f"текст {i}") for i in range(1500)]
    mixed += [_raw(str(i), "повтор") for i in range(1500, 2000)]
    mixed += [_raw(str(i), "второй повтор") for i in range(1500, 2000)]
    assert store_messages(db_session, source=source, messages=mixed, now=NOW) == (1250, 1250)
    db_session.commit()
    assert _count(db_session, Message) == 2000
    texts = {e: t for e, t in db_session.execute(select(Message.external_id, Message.text))}
    assert texts["1"] == "текст 1" and texts["0"] == "Яма на ул. Ленина"
    assert texts["1999"] == "повтор"
    ids = list(db_session.scalars(select(Message.id).where(Message.text.like("текст %"))))
    by_external = {e: i for e, i in db_session.execute(select(Message.external_id, Message.id))}
    odd = [by_external[str(i)] for i in range(1, 1500, 2)]
    assert odd == sorted(odd) and len(ids) == 750  # ids follow the order of the batch


def test_the_same_external_id_in_another_source_is_stored(db_session: Session) -> None:
    vk = ensure_source(db_session, name="vk-test", kind="vk")
    tg = ensure_source(db_session, name="tg-test", kind="telegram")
    assert store_messages(db_session, source=vk, messages=[_raw("1"), _raw("2")], now=NOW) == (2, 0)
    assert store_messages(db_session, source=tg, messages=[_raw("1"), _raw("1")], now=NOW) == (1, 1)


def test_stored_fields_survive_the_batch_insert(db_session: Session) -> None:
    source = ensure_source(db_session, name="vk-test", kind="vk")
    rich = RawMessage(
        source="vk-test",
        external_id="r1",
        text="«Кавычки», эмодзи 🙃 и \\ обратный слэш",
        created_at=NOW.astimezone(ZoneInfo("Asia/Vladivostok")),
        author_name="Житель",
        attachments=("photo1", "видео"),
        geo=Geo(47.70625, 131.10583),
        extra={"stage": "Получено", "n": 2, "nested": {"a": [1, None]}},
    )
    odd = RawMessage(
        source="vk-test", external_id="r2", text="нет воды", created_at=NOW, geo=Geo(nan, nan)
    )
    assert store_messages(db_session, source=source, messages=[rich, odd], now=NOW) == (2, 0)
    db_session.commit()
    row = db_session.scalar(select(Message).where(Message.external_id == "r1"))
    assert row is not None and row.text == rich.text and row.created_at == NOW
    assert row.attachments == ["photo1", "видео"] and row.extra == rich.extra
    assert (row.lat, row.lon, row.received_at) == (47.70625, 131.10583, NOW)
    naive = RawMessage(
        source="vk-test", external_id="r3", text="x", created_at=datetime(2026, 1, 1)
    )
    with pytest.raises(StatementError, match="naive datetime"):
        store_messages(db_session, source=source, messages=[naive], now=NOW)


class _StubModel:
    """A classifier stand-in: the block is the first word of the text (keeps tests quick)."""

    version = "stub"

    def predict_many(self, texts: list[str]) -> list[Prediction]:
        out = []
        for text in texts:
            block = text.split(":", 1)[0]
            out.append(
                Prediction(
                    block, 0.9, [(block, 0.9)], "срочно" in text, block == "other", False, []
                )
            )
        return out


@pytest.fixture
def ctx(seeded_session: Session, reference_config: ReferenceConfig, monkeypatch) -> AppContext:
    """The composition root on the test database, with the stub classifier."""
    ensure_demo_users(seeded_session)
    seeded_session.commit()
    monkeypatch.setattr(pipeline, "active_classifier", lambda _ctx: _StubModel())
    tz = reference_config.municipality.municipality.timezone
    return AppContext(
        settings=Settings(secret_key="test"),
        config=reference_config,
        engine=seeded_session.get_bind(),  # type: ignore[arg-type]
        calendar=load_calendar(reference_config, tz=tz, config_dir=str(CONFIG_DIR)),
        tz=tz,
    )


TEXTS = [
    "housing: В Амурзете на ул. Ленина 15 прорвало трубу, вода хлещет в подвал",
    "housing: Ленина 15 в Амурзете — прорвало трубу, вода хлещет в подвал, срочно",
    "other: Спасибо за праздник!",
    "roads: Огромная яма на ул. Гагарина в Амурзете, машины бьют колёса",
    "housing: ЛОМАЕТ: нет отопления в школе на Советской в Амурзете",
    "roads: Яма на Гагарина в Амурзете, колёса бьют",
    "energy: Нет света на всей улице Советской в Пузино",
]


def _process(ctx: AppContext, session: Session) -> dict[str, int]:
    source = ensure_source(session, name="tg-test", kind="telegram")
    raws = [
        RawMessage(source="tg-test", external_id=str(i), text=t, created_at=NOW)
        for i, t in enumerate(TEXTS)
    ]
    store_messages(session, source=source, messages=raws, now=NOW)
    session.commit()
    messages = list(session.scalars(select(Message).order_by(Message.id)))
    stats = pipeline.process_messages(ctx, session, messages, now=NOW)
    session.commit()
    return stats


def _written(session: Session) -> tuple[int, int, int, int, list[tuple[str, str | None]]]:
    links = session.execute(
        select(Message.status, Incident.number)
        .outerjoin(Incident, Incident.id == Message.incident_id)
        .order_by(Message.id)
    )
    return (
        _count(session, Classification),
        _count(session, Incident),
        _count(session, IncidentEvent),
        _count(session, AlertOutbox),
        [(status, number) for status, number in links],
    )


def test_a_clean_batch_links_duplicates_and_writes_once(ctx, seeded_session: Session) -> None:
    stats = _process(ctx, seeded_session)
    assert stats == {"processed": 7, "incidents_new": 4, "merged": 2, "noise": 1, "failed": 0}
    classifications, incidents, _events, alerts, links = _written(seeded_session)
    assert (classifications, incidents) == (7, 4) and alerts > 0
    assert links[0] == links[1] and links[3] == links[5] and links[2] == ("classified", None)
    assert all(status == "linked" and number for status, number in links[:2] + links[3:])


def test_a_failing_batch_write_is_retried_message_by_message(
    ctx, seeded_session: Session, monkeypatch
) -> None:
    real = batch_module.IntakeBatch.finish
    calls = {"n": 0}

    def flaky_finish(self: batch_module.IntakeBatch) -> None:
        calls["n"] += 1
        if calls["n"] == 1:  # the whole batch's write fails once (a deadlock, say)
            raise RuntimeError("сбой записи пакета")
        real(self)

    monkeypatch.setattr(batch_module.IntakeBatch, "finish", flaky_finish)
    stats = _process(ctx, seeded_session)
    assert stats == {"processed": 7, "incidents_new": 4, "merged": 2, "noise": 1, "failed": 0}
    classifications, incidents, events, _alerts, links = _written(seeded_session)
    assert (classifications, incidents) == (7, 4)  # nothing left over from the failed attempt
    created = seeded_session.scalar(
        select(func.count()).select_from(IncidentEvent).where(IncidentEvent.action == "created")
    )
    assert created == 4 and events > created
    assert links[0] == links[1] and links[3] == links[5]


def test_a_bad_message_fails_alone_and_the_rest_is_written_once(
    ctx, seeded_session: Session, monkeypatch
) -> None:
    real = intake.intake_message

    def flaky(session: Session, **kwargs: Any) -> Any:
        if "ЛОМАЕТ" in kwargs["message"].text:
            raise RuntimeError("сбой посреди пакета")
        return real(session, **kwargs)

    monkeypatch.setattr(intake, "intake_message", flaky)
    stats = _process(ctx, seeded_session)
    assert stats == {"processed": 6, "incidents_new": 3, "merged": 2, "noise": 1, "failed": 1}
    classifications, incidents, _events, _alerts, links = _written(seeded_session)
    assert (classifications, incidents) == (6, 3)
    failed = seeded_session.scalar(select(Message).where(Message.external_id == "4"))
    assert failed is not None and failed.status == "failed" and "сбой" in (failed.error or "")
    assert links[4] == ("failed", None) and links[0] == links[1]
