"""The whole pipeline on a real database: collect → store → classify → incident → deadline."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import pipeline
from app.context import AppContext
from app.demo import ensure_demo_users
from collectors.repository import ensure_source, store_messages
from core.models import Classification, Incident, Message, Source
from core.types import RawMessage

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Wednesday 12:00 in Амурзет


def _raw(source: str, external_id: str, text: str, at: datetime = NOW) -> RawMessage:
    return RawMessage(source=source, external_id=external_id, text=text, created_at=at)


def _store(session: Session, kind: str, items: list[tuple[str, str]], at: datetime = NOW) -> None:
    source = ensure_source(session, name=f"test-{kind}", kind=kind)
    store_messages(
        session,
        source=source,
        messages=[_raw(source.name, eid, text, at) for eid, text in items],
        now=at,
    )
    session.commit()


def test_demo_stream_is_stored_once_and_resumes_from_its_cursor(
    app_ctx: AppContext, seeded_session: Session
) -> None:
    first = pipeline.collect_demo(app_ctx, seeded_session, NOW)
    seeded_session.commit()
    same_instant = pipeline.collect_demo(app_ctx, seeded_session, NOW)
    later = pipeline.collect_demo(app_ctx, seeded_session, NOW + timedelta(minutes=1))
    seeded_session.commit()
    assert first["stored"] == 3 and first["duplicates"] == 0
    assert same_instant["stored"] == 0
    assert later["stored"] == 50  # 60/min for one minute, capped by the batch size
    kinds = set(seeded_session.scalars(select(Source.kind).where(Source.name.like("demo-%"))))
    assert kinds <= {"vk", "telegram", "email", "portal", "pos", "open311"} and kinds


def test_messages_become_routed_incidents_with_deadlines(
    app_ctx: AppContext, seeded_session: Session
) -> None:
    _store(
        seeded_session,
        "vk",
        [
            ("1", "В Амурзете на ул. Ленина 15 прорвало трубу, вода хлещет в подвал, холодно"),
            ("2", "Спасибо администрации за праздник, всё было замечательно!"),
            ("3", "Огромная яма на дороге по ул. Гагарина в Амурзете, машины бьют колёса"),
        ],
    )
    stats = pipeline.process_pending(app_ctx, seeded_session, NOW)
    seeded_session.commit()
    assert stats["processed"] == 3 and stats["failed"] == 0
    incidents = list(seeded_session.scalars(select(Incident).order_by(Incident.id)))
    blocks = {i.block_code for i in incidents}
    assert "roads" in blocks
    assert all(i.due_at is not None and i.due_at > NOW for i in incidents)
    assert all(i.number and i.number.startswith("МЦУ-2026-") for i in incidents)
    assert all(i.department_id is not None and i.status == "assigned" for i in incidents)
    thanks = seeded_session.scalar(select(Message).where(Message.external_id == "2"))
    assert thanks is not None and thanks.incident_id is None and thanks.status == "classified"
    cls = seeded_session.scalar(
        select(Classification).where(Classification.message_id == thanks.id)
    )
    assert cls is not None and cls.block_code == "other" and cls.noise


def test_one_bad_message_fails_alone_and_is_kept(
    app_ctx: AppContext, seeded_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    import incidents.intake as intake

    real = intake.intake_message

    def flaky(session: Session, **kwargs: object) -> object:
        if "ЛОМАЕТ" in kwargs["message"].text:  # type: ignore[attr-defined]
            raise RuntimeError("сбой посреди пакета")
        return real(session, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(intake, "intake_message", flaky)
    _store(
        seeded_session,
        "telegram",
        [
            ("a", "Нет света на всей улице Советской в Амурзете"),
            ("b", "ЛОМАЕТ обработку: мусор не вывозят вторую неделю"),
            ("c", "Автобус до Биробиджана опять не пришёл по расписанию"),
        ],
    )
    stats = pipeline.process_pending(app_ctx, seeded_session, NOW)
    seeded_session.commit()
    assert stats["processed"] == 2 and stats["failed"] == 1
    failed = seeded_session.scalar(select(Message).where(Message.external_id == "b"))
    assert (
        failed is not None
        and failed.status == "failed"
        and "сбой посреди пакета" in (failed.error or "")
    )
    assert seeded_session.scalar(select(func.count()).select_from(Classification)) == 2


def test_same_problem_from_two_channels_is_one_incident(
    app_ctx: AppContext, seeded_session: Session
) -> None:
    _store(
        seeded_session,
        "vk",
        [
            (
                "v1",
                "Амурзет, Ленина 15 — опять нет горячей воды и батареи "
                "еле тёплые, УК трубку не берёт",
            )
        ],
    )
    _store(
        seeded_session,
        "email",
        [
            (
                "e1",
                "Прошу принять меры: с. Амурзет, ул. Ленина, д. 15 — "
                "нет горячей воды, батареи отопления холодные",
            )
        ],
        at=NOW + timedelta(hours=1),
    )
    pipeline.process_pending(app_ctx, seeded_session, NOW + timedelta(hours=1))
    seeded_session.commit()
    incidents = list(seeded_session.scalars(select(Incident)))
    assert len(incidents) == 1
    assert incidents[0].message_count == 2


def test_escalation_job_runs_on_overdue_incidents(
    app_ctx: AppContext, seeded_session: Session
) -> None:
    ensure_demo_users(seeded_session)
    _store(
        seeded_session,
        "vk",
        [("x", "Третий день нет воды во всём доме на ул. Ленина 3 в Амурзете")],
    )
    pipeline.process_pending(app_ctx, seeded_session, NOW)
    seeded_session.commit()
    later = NOW + timedelta(days=10)
    first = pipeline.escalate(app_ctx, seeded_session, later)
    again = pipeline.escalate(app_ctx, seeded_session, later)
    seeded_session.commit()
    assert first["alerts"] > 0
    assert again["alerts"] == 0
