"""The escalation ladder on a real database: each step alerts exactly once, even when run twice."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from core.db import session_factory
from core.models import AlertOutbox, Incident
from incidents import repository
from incidents.escalation import EscalationSettings, run_escalation
from incidents.service import add_answer, intake_message

VL = ZoneInfo("Asia/Vladivostok")


def vl(*args: int) -> datetime:
    return datetime(*args, tzinfo=VL)  # type: ignore[misc]


RECEIVED = vl(2026, 3, 2, 10)  # Monday; social_normal: 8 working hours → due Tue 10:00


@pytest.fixture
def vk_incident(incident_db, new_message, calendar, intake_settings):
    def make(
        block: str = "housing", received: datetime = RECEIVED, street: str = "Ленина"
    ) -> Incident:
        message, cls = new_message(
            kind="vk",
            text="Прорвало трубу",
            received=received,
            block=block,
            place={"settlement": "Амурзет", "street": street},
        )
        incident = intake_message(
            incident_db,
            message=message,
            classification=cls,
            settings=intake_settings,
            calendar=calendar,
            now=received,
        ).incident
        assert incident is not None
        return incident

    return make


def ladder_alerts(session: Session) -> Counter[tuple[str, int | None]]:
    kinds = ("reminder", "overdue", "escalation")
    rows = session.scalars(select(AlertOutbox).where(AlertOutbox.kind.in_(kinds)))
    return Counter((row.kind, row.user_id) for row in rows)


def run(session: Session, calendar, settings: EscalationSettings, now: datetime, **kw: int):
    return run_escalation(session, now=now, calendar=calendar, settings=settings, **kw)


def test_each_step_alerts_once_even_when_run_twice(
    incident_db, world, vk_incident, calendar, escalation_settings
) -> None:
    incident = vk_incident()
    executors = [world.executor, world.executor2, world.puzino_executor]
    expected: Counter[tuple[str, int | None]] = Counter()
    steps = [
        (vl(2026, 3, 2, 14, 59), 0, []),  # 3 h 59 min of 8 h
        (vl(2026, 3, 2, 15, 0), 1, [("reminder", u) for u in executors]),  # 50 %
        (vl(2026, 3, 2, 17, 30), 2, [("reminder", u) for u in executors]),  # 80 % at 17:24
        (vl(2026, 3, 3, 10, 0), 3, [("overdue", world.housing_head)]),
        (vl(2026, 3, 3, 14, 59), 3, []),
        (vl(2026, 3, 3, 15, 0), 4, [("escalation", world.coordinator)]),  # 4 working hours late
    ]
    for now, level, new_alerts in steps:
        for _ in range(2):
            run(incident_db, calendar, escalation_settings, now)
        expected.update(new_alerts)
        assert ladder_alerts(incident_db) == expected, now
        assert incident.escalation_level == level
    keys = set(
        incident_db.scalars(select(AlertOutbox.dedupe_key).where(AlertOutbox.kind == "overdue"))
    )
    assert keys == {f"esc:{incident.id}:2026-03-03T00:00:00+00:00:overdue:{world.housing_head}"}
    payload = incident_db.scalars(
        select(AlertOutbox.payload).where(AlertOutbox.kind == "escalation")
    ).one()
    assert payload["number"] == incident.number and payload["step"] == "coordinator"


def test_a_late_first_run_skips_stale_reminders(
    incident_db, world, vk_incident, calendar, escalation_settings
) -> None:
    vk_incident()
    stats = run(incident_db, calendar, escalation_settings, vl(2026, 3, 4, 12))
    assert stats.escalated == 1 and stats.alerts == 2
    assert ladder_alerts(incident_db) == Counter(
        {("overdue", world.housing_head): 1, ("escalation", world.coordinator): 1}
    )


def test_without_department_or_sector_head_the_fallbacks_are_told(
    incident_db, world, vk_incident, calendar, escalation_settings
) -> None:
    incident = vk_incident(block="emergency")  # no routing rule, no sector head
    assert incident.status == "new"
    run(incident_db, calendar, escalation_settings, vl(2026, 3, 2, 15))
    run(incident_db, calendar, escalation_settings, vl(2026, 3, 3, 10))
    assert ladder_alerts(incident_db) == Counter(
        {("reminder", world.operator): 1, ("overdue", world.coordinator): 1}
    )


def test_paused_and_answered_incidents_are_not_chased(
    incident_db, world, vk_incident, calendar, escalation_settings
) -> None:
    incident = vk_incident()
    add_answer(
        incident_db,
        incident=incident,
        author=None,
        kind="final",
        text="Порыв устранён 02.03.2026 бригадой МУП «Водоканал».",
        now=RECEIVED,
        calendar=calendar,
    )
    stats = run(incident_db, calendar, escalation_settings, vl(2026, 3, 20, 12))
    assert stats.scanned == 0 and ladder_alerts(incident_db) == Counter()


def test_an_interim_answer_restarts_the_ladder_for_the_final_deadline(
    incident_db, world, vk_incident, calendar, escalation_settings
) -> None:
    incident = vk_incident()
    run(incident_db, calendar, escalation_settings, vl(2026, 3, 3, 10))
    assert incident.escalation_level == 3
    add_answer(
        incident_db,
        incident=incident,
        author=None,
        kind="interim",
        text="Бригада МУП «Водоканал» направлена, ремонт будет выполнен до 5 марта.",
        now=vl(2026, 3, 3, 11),
        calendar=calendar,
    )
    assert incident.escalation_level == 0 and incident.due_at == vl(2026, 3, 13, 18)
    run(incident_db, calendar, escalation_settings, vl(2026, 3, 13, 18))
    overdue = incident_db.scalars(
        select(AlertOutbox.dedupe_key).where(AlertOutbox.kind == "overdue")
    )
    assert sorted(overdue) == [
        f"esc:{incident.id}:2026-03-03T00:00:00+00:00:overdue:{world.housing_head}",
        f"esc:{incident.id}:2026-03-13T08:00:00+00:00:overdue:{world.housing_head}",
    ]


def test_batches_walk_every_incident_by_cursor(
    incident_db, world, vk_incident, calendar, escalation_settings
) -> None:
    streets = ("Ленина", "Мира", "Школьная")
    ids = [
        vk_incident(received=RECEIVED + timedelta(minutes=i), street=streets[i]).id
        for i in range(3)
    ]
    assert len(set(ids)) == 3
    cursor, seen = 0, []
    while True:
        stats = run(
            incident_db, calendar, escalation_settings, vl(2026, 3, 3, 12), limit=2, after_id=cursor
        )
        seen.append(stats.scanned)
        cursor = stats.last_id
        if stats.scanned < 2:
            break
    assert seen == [2, 1] and cursor == max(ids)
    assert (
        incident_db.scalar(select(func.count(AlertOutbox.id)).where(AlertOutbox.kind == "overdue"))
        == 3
    )


def test_a_repeated_dedupe_key_is_skipped_not_an_error(incident_db, world, vk_incident) -> None:
    incident = vk_incident()
    row = {
        "kind": "overdue",
        "dedupe_key": "esc:test",
        "user_id": world.housing_head,
        "incident_id": incident.id,
        "urgent": False,
        "payload": {},
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": RECEIVED,
        "created_at": RECEIVED,
    }
    assert repository.insert_alerts(incident_db, rows=[row]) == 1
    assert repository.insert_alerts(incident_db, rows=[row, row | {"dedupe_key": "esc:other"}]) == 1


def test_two_workers_never_alert_twice(
    incident_db, incident_engine: Engine, world, vk_incident, calendar, escalation_settings
) -> None:
    if incident_engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: the second worker would wait, not skip")
    vk_incident()
    incident_db.commit()
    other = session_factory(incident_engine)()
    try:
        now = vl(2026, 3, 3, 10)
        first = run(incident_db, calendar, escalation_settings, now)  # holds the row lock
        second = run(other, calendar, escalation_settings, now)  # SKIP LOCKED: sees nothing
        assert (first.escalated, second.scanned) == (1, 0)
        incident_db.commit()
        other.rollback()
        third = run(other, calendar, escalation_settings, now)
        assert third.escalated == 0
        other.commit()
    finally:
        other.close()
    assert ladder_alerts(incident_db) == Counter({("overdue", world.housing_head): 1})
