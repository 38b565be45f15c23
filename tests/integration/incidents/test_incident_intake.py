"""Intake on a real database: new incidents, duplicates across channels, noise, routing, SLA."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.calendar import WorkCalendar
from core.models import AlertOutbox, Incident, IncidentEvent
from incidents.intake import IntakeSettings
from incidents.service import intake_message

AMZ_LENINA_12 = {
    "settlement": {"value": "Амурзет", "start": 0, "end": 7},
    "street": {"value": "Ленина", "start": 20, "end": 26},
    "house": {"value": "12", "start": 27, "end": 29},
}
MON_10 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # Monday 2 March, 10:00 in UTC+10


def alerts(session: Session, kind: str | None = None) -> list[AlertOutbox]:
    stmt = select(AlertOutbox).order_by(AlertOutbox.id)
    if kind:
        stmt = stmt.where(AlertOutbox.kind == kind)
    return list(session.scalars(stmt))


def actions(session: Session, incident_id: int) -> list[tuple[str, str | None, str | None]]:
    stmt = (
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident_id)
        .order_by(IncidentEvent.id)
    )
    return [(e.action, e.from_status, e.to_status) for e in session.scalars(stmt)]


def test_a_vk_message_opens_a_routed_incident_with_deadlines(
    incident_db, world, new_message, calendar: WorkCalendar, intake_settings: IntakeSettings
) -> None:
    text = "Прорвало трубу на Ленина 12 в Амурзете, вода хлещет прямо на дорогу!!! " * 3
    message, cls = new_message(
        kind="vk", text=text, received=MON_10, place=AMZ_LENINA_12, needs_review=True
    )
    result = intake_message(
        incident_db,
        message=message,
        classification=cls,
        settings=intake_settings,
        calendar=calendar,
        now=MON_10,
    )
    incident = result.incident
    assert result.created and incident is not None
    assert incident.number == f"МЦУ-2026-{incident.id:06d}"
    assert len(incident.title) <= 121 and incident.title.startswith("Прорвало трубу на Ленина 12")
    assert (incident.settlement, incident.street, incident.house) == ("Амурзет", "Ленина", "12")
    assert incident.needs_review and not incident.urgent
    assert incident.status == "assigned" and incident.department_id == world.gkh
    assert incident.sla_policy == "social_normal"
    # 8 working hours from Monday 10:00: 3 h + 4 h on Monday, 1 h on Tuesday → Tue 10:00 local.
    assert incident.first_answer_due_at == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)
    assert incident.due_at == incident.first_answer_due_at and incident.final_due_at is None
    assert "ленина" not in (incident.text_fingerprint or "") and "трубу" in (
        incident.text_fingerprint or ""
    )
    assert message.incident_id == incident.id and message.status == "linked"
    assert actions(incident_db, incident.id) == [
        ("created", None, "new"),
        ("assigned", "new", "assigned"),
    ]
    assert [a.user_id for a in alerts(incident_db, "new_incident")] == [world.housing_head]
    assert sorted(a.user_id for a in alerts(incident_db, "assigned")) == sorted(
        [world.executor, world.executor2, world.puzino_executor]
    )
    payload = alerts(incident_db, "new_incident")[0].payload
    assert payload == {
        "incident_id": incident.id,
        "number": incident.number,
        "block": "housing",
        "title": incident.title,
        "settlement": "Амурзет",
        "due_at": "2026-03-03T00:00:00+00:00",
    }


def test_the_same_burst_pipe_from_pos_and_email_joins_the_open_incident(
    incident_db, world, new_message, calendar, intake_settings
) -> None:
    vk, vk_cls = new_message(
        kind="vk",
        text="Прорвало трубу на Ленина 12, вода хлещет",
        received=MON_10,
        place=AMZ_LENINA_12,
    )
    first = intake_message(
        incident_db,
        message=vk,
        classification=vk_cls,
        settings=intake_settings,
        calendar=calendar,
        now=MON_10,
    ).incident
    assert first is not None
    later = MON_10 + timedelta(hours=3)
    pos, pos_cls = new_message(
        kind="pos",
        text="Порыв водопровода у дома 12 по улице Ленина, топит двор",
        received=later,
        place={"settlement": "Амурзет", "street": "ул. Ленина"},
    )
    joined = intake_message(
        incident_db,
        message=pos,
        classification=pos_cls,
        settings=intake_settings,
        calendar=calendar,
        now=later,
    )
    email, email_cls = new_message(
        kind="email",
        text="Прорвало трубу на Ленина 12, вода хлещет!",
        received=later + timedelta(hours=1),
    )
    again = intake_message(
        incident_db,
        message=email,
        classification=email_cls,
        settings=intake_settings,
        calendar=calendar,
        now=later,
    )
    assert not joined.created and joined.incident is first and joined.match is not None
    assert (
        joined.match.reason == "address"
        and again.match is not None
        and again.match.reason == "text"
    )
    assert first.message_count == 3 and pos.incident_id == first.id == email.incident_id
    assert "водопровода" in (first.text_fingerprint or "")
    assert [a for a, _, _ in actions(incident_db, first.id)].count("merged_message") == 2
    assert incident_db.scalar(select(func.count(Incident.id))) == 1


def test_an_urgent_duplicate_makes_the_incident_urgent_and_stricter(
    incident_db, world, new_message, calendar, intake_settings
) -> None:
    pos, pos_cls = new_message(
        kind="pos",
        text="Нет воды в колонке",
        received=MON_10,
        place={"settlement": "Пузино", "street": "Центральная"},
    )
    incident = intake_message(
        incident_db,
        message=pos,
        classification=pos_cls,
        settings=intake_settings,
        calendar=calendar,
        now=MON_10,
    ).incident
    assert incident is not None and incident.sla_policy == "portal"
    assert incident.executor_id == world.puzino_executor  # the Пузино rule is more specific
    vk, vk_cls = new_message(
        kind="vk",
        text="В Пузино на Центральной нет воды, колонка сломана",
        received=MON_10 + timedelta(hours=1),
        urgent=True,
        place={"settlement": "Пузино", "street": "Центральная"},
    )
    intake_message(
        incident_db,
        message=vk,
        classification=vk_cls,
        settings=intake_settings,
        calendar=calendar,
        now=MON_10 + timedelta(hours=1),
    )
    assert incident.urgent and incident.sla_policy == "social_high"
    # social_high counted from the receipt: 10:00 + 3 h before lunch + 1 h after → 15:00 local.
    assert incident.due_at == datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
    urgent_alerts = alerts(incident_db, "urgent")
    # The block's head and the coordinator, each once, flagged urgent.
    assert sorted(a.user_id for a in urgent_alerts) == sorted(
        [world.housing_head, world.coordinator]
    )
    assert all(a.urgent for a in urgent_alerts)


def test_noise_opens_nothing(incident_db, world, new_message, calendar, intake_settings) -> None:
    message, cls = new_message(
        kind="vk", text="Продам гараж недорого", received=MON_10, block="other"
    )
    result = intake_message(
        incident_db,
        message=message,
        classification=cls,
        settings=intake_settings,
        calendar=calendar,
        now=MON_10,
    )
    assert result.incident is None and not result.created
    assert message.status == "classified" and message.incident_id is None
    assert incident_db.scalar(select(func.count(Incident.id))) == 0 and alerts(incident_db) == []


def test_intake_is_idempotent(incident_db, world, new_message, calendar, intake_settings) -> None:
    message, cls = new_message(kind="vk", text="Нет отопления в школе", received=MON_10)
    first = intake_message(
        incident_db,
        message=message,
        classification=cls,
        settings=intake_settings,
        calendar=calendar,
        now=MON_10,
    )
    second = intake_message(
        incident_db,
        message=message,
        classification=cls,
        settings=intake_settings,
        calendar=calendar,
        now=MON_10,
    )
    assert first.created and not second.created and second.incident is first.incident
    assert first.incident is not None and first.incident.message_count == 1


def test_another_village_or_an_old_incident_is_not_joined(
    incident_db, world, new_message, calendar, intake_settings
) -> None:
    text = "На Ленина нет света второй день"
    m1, c1 = new_message(
        kind="vk", text=text, received=MON_10, place={"settlement": "Амурзет", "street": "Ленина"}
    )
    m2, c2 = new_message(
        kind="vk", text=text, received=MON_10, place={"settlement": "Пузино", "street": "Ленина"}
    )
    late = MON_10 + timedelta(hours=73)
    m3, c3 = new_message(
        kind="vk", text=text, received=late, place={"settlement": "Амурзет", "street": "Ленина"}
    )
    results = [
        intake_message(
            incident_db,
            message=m,
            classification=c,
            settings=intake_settings,
            calendar=calendar,
            now=m.received_at,
        )
        for m, c in ((m1, c1), (m2, c2), (m3, c3))
    ]
    assert [r.created for r in results] == [True, True, True]


def test_an_unrouted_block_waits_in_the_operators_queue(
    incident_db, world, new_message, calendar, intake_settings
) -> None:
    message, cls = new_message(
        kind="email", text="Паводок подтопил огороды", received=MON_10, block="emergency"
    )
    incident = intake_message(
        incident_db,
        message=message,
        classification=cls,
        settings=intake_settings,
        calendar=calendar,
        now=MON_10,
    ).incident
    assert incident is not None and incident.status == "new" and incident.department_id is None
    assert incident.sla_policy == "fz59"
    assert incident.final_due_at == datetime(2026, 4, 1, 8, 0, tzinfo=UTC)  # 1 April 18:00 local
    assert alerts(incident_db, "assigned") == []
    # No sector head answers for «emergency»: nobody gets a new-incident alert.
    assert alerts(incident_db, "new_incident") == []
