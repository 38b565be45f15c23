"""Transitions, answers, citizen feedback and deadline extension on a real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import ConflictError
from core.models import AlertOutbox, Incident, IncidentEvent, User
from incidents.lifecycle import ReasonRequiredError
from incidents.service import (
    add_answer,
    assign,
    change_status,
    clocks,
    extend_deadline,
    intake_message,
    record_feedback,
)

MON_10 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # Monday 2 March, 10:00 in UTC+10
GOOD_FINAL = "Порыв устранён 03.03.2026 бригадой МУП «Водоканал», водоснабжение восстановлено."
GOOD_INTERIM = "Бригада МУП «Водоканал» направлена, ремонт будет выполнен до 5 марта."


@pytest.fixture
def open_incident(incident_db, world, new_message, calendar, intake_settings):
    """A social-network incident routed to the ЖКХ department."""

    def make(kind: str = "vk", text: str = "Прорвало трубу на Ленина 12", **place: str) -> Incident:
        message, cls = new_message(kind=kind, text=text, received=MON_10, place=place)
        result = intake_message(
            incident_db,
            message=message,
            classification=cls,
            settings=intake_settings,
            calendar=calendar,
            now=MON_10,
        )
        assert result.incident is not None
        return result.incident

    return make


def history(session: Session, incident: Incident) -> list[tuple[str, str | None, str | None]]:
    stmt = (
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident.id)
        .order_by(IncidentEvent.id)
    )
    return [(e.action, e.from_status, e.to_status) for e in session.scalars(stmt)]


def test_the_whole_path_from_receipt_to_closure(
    incident_db, world, open_incident, calendar
) -> None:
    incident = open_incident()
    executor = incident_db.get(User, world.executor)
    t = MON_10 + timedelta(hours=1)
    change_status(
        incident_db,
        incident=incident,
        to_status="in_progress",
        actor=executor,
        now=t,
        calendar=calendar,
    )
    interim = add_answer(
        incident_db,
        incident=incident,
        author=executor,
        kind="interim",
        text=GOOD_INTERIM,
        now=t + timedelta(hours=1),
        calendar=calendar,
    )
    assert not interim.formal_reply and incident.status == "answered"
    assert incident.first_answered_at == t + timedelta(hours=1)
    # Interim on Monday 12:00 → the end of the 7th working day after it (9 March is off) → Thu 12th.
    assert incident.final_due_at == datetime(2026, 3, 12, 8, 0, tzinfo=UTC)
    assert incident.due_at == incident.final_due_at
    add_answer(
        incident_db,
        incident=incident,
        author=executor,
        kind="final",
        text=GOOD_FINAL,
        now=t + timedelta(days=1),
        calendar=calendar,
    )
    assert incident.final_answered_at == t + timedelta(days=1) and incident.due_at is None
    record_feedback(
        incident_db,
        incident=incident,
        verdict="yes",
        comment=None,
        channel="vk",
        now=t + timedelta(days=2),
        calendar=calendar,
    )
    assert incident.status == "resolved" and incident.resolved_at == t + timedelta(days=2)
    change_status(
        incident_db,
        incident=incident,
        to_status="closed",
        actor=None,
        now=t + timedelta(days=3),
        calendar=calendar,
    )
    assert incident.status == "closed" and incident.closed_at is not None
    transitions = [h for h in history(incident_db, incident) if h[1] != h[2]]
    assert transitions == [
        ("created", None, "new"),
        ("assigned", "new", "assigned"),
        ("taken_in_work", "assigned", "in_progress"),
        ("answered", "in_progress", "answered"),
        ("resolved", "answered", "resolved"),
        ("closed", "resolved", "closed"),
    ]
    event = incident_db.scalars(
        select(IncidentEvent).where(IncidentEvent.action == "taken_in_work")
    ).one()
    assert event.actor_id == world.executor and event.at == t


def test_an_illegal_transition_changes_nothing(incident_db, open_incident, calendar) -> None:
    incident = open_incident()
    before = len(history(incident_db, incident))
    with pytest.raises(ConflictError, match="из статуса «Назначен» в «Закрыт»"):
        change_status(
            incident_db,
            incident=incident,
            to_status="closed",
            actor=None,
            now=MON_10,
            calendar=calendar,
        )
    assert incident.status == "assigned" and len(history(incident_db, incident)) == before


def test_rejection_needs_a_reason_and_the_competent_body(
    incident_db, open_incident, calendar
) -> None:
    incident = open_incident()
    with pytest.raises(ReasonRequiredError):
        change_status(
            incident_db,
            incident=incident,
            to_status="rejected",
            actor=None,
            now=MON_10,
            calendar=calendar,
            reason="Не наш вопрос",
        )
    change_status(
        incident_db,
        incident=incident,
        to_status="rejected",
        actor=None,
        now=MON_10,
        calendar=calendar,
        reason="Участок федеральной трассы",
        competent_body="ФКУ Упрдор",
    )
    event = incident_db.scalars(
        select(IncidentEvent).where(IncidentEvent.action == "rejected")
    ).one()
    assert event.reason == "Участок федеральной трассы"
    assert event.payload["competent_body"] == "ФКУ Упрдор" and incident.due_at is None


def test_pause_and_resume(incident_db, open_incident, calendar) -> None:
    incident = open_incident()
    change_status(
        incident_db,
        incident=incident,
        to_status="paused",
        actor=None,
        now=MON_10,
        calendar=calendar,
        reason="Уточняем адрес у заявителя",
    )
    change_status(
        incident_db,
        incident=incident,
        to_status="in_progress",
        actor=None,
        now=MON_10,
        calendar=calendar,
    )
    assert history(incident_db, incident)[-2:] == [
        ("paused", "assigned", "paused"),
        ("resumed", "paused", "in_progress"),
    ]


def test_no_from_the_citizen_reopens_and_alerts_the_heads(
    incident_db, world, open_incident, calendar
) -> None:
    incident = open_incident()
    add_answer(
        incident_db,
        incident=incident,
        author=None,
        kind="final",
        text=GOOD_FINAL,
        now=MON_10,
        calendar=calendar,
    )
    later = MON_10 + timedelta(days=2)
    record_feedback(
        incident_db,
        incident=incident,
        verdict="no",
        comment="Вода так и течёт",
        channel="vk",
        now=later,
        calendar=calendar,
    )
    assert incident.status == "reopened" and incident.reopen_count == 1
    assert incident.final_answered_at is None and incident.due_at == incident.final_due_at
    assert incident.final_due_at is not None and incident.final_due_at > later
    reopened = list(incident_db.scalars(select(AlertOutbox).where(AlertOutbox.kind == "reopened")))
    assert world.housing_head in {a.user_id for a in reopened}
    answer = add_answer(
        incident_db,
        incident=incident,
        author=None,
        kind="final",
        text=GOOD_FINAL + " Повторно",
        now=later + timedelta(hours=1),
        calendar=calendar,
    )
    assert incident.status == "answered" and answer.id is not None
    assert ("taken_in_work", "reopened", "in_progress") in history(incident_db, incident)


def test_partial_feedback_is_only_recorded(incident_db, open_incident, calendar) -> None:
    incident = open_incident()
    add_answer(
        incident_db,
        incident=incident,
        author=None,
        kind="final",
        text=GOOD_FINAL,
        now=MON_10,
        calendar=calendar,
    )
    record_feedback(
        incident_db,
        incident=incident,
        verdict="partial",
        comment="Лужа осталась",
        channel="telegram",
        now=MON_10,
        calendar=calendar,
    )
    assert incident.status == "answered" and history(incident_db, incident)[-1][0] == "feedback"


def test_a_formal_reply_and_a_reused_template_are_flagged(
    incident_db, open_incident, calendar
) -> None:
    first, second = open_incident(), open_incident(text="Яма у школы", settlement="Пузино")
    reply = add_answer(
        incident_db,
        incident=first,
        author=None,
        kind="interim",
        text="Ваше обращение рассмотрено, информация принята к сведению.",
        now=MON_10,
        calendar=calendar,
    )
    assert reply.formal_reply and reply.formal_reasons
    add_answer(
        incident_db,
        incident=first,
        author=None,
        kind="final",
        text=GOOD_FINAL,
        now=MON_10,
        calendar=calendar,
    )
    copy = add_answer(
        incident_db,
        incident=second,
        author=None,
        kind="final",
        text=GOOD_FINAL,
        now=MON_10,
        calendar=calendar,
    )
    assert copy.formal_reply and any(r.startswith("повтор шаблона") for r in copy.formal_reasons)


def test_answering_a_new_unrouted_incident_is_refused(
    incident_db, new_message, calendar, intake_settings
) -> None:
    message, cls = new_message(kind="vk", text="Паводок", received=MON_10, block="emergency")
    incident = intake_message(
        incident_db,
        message=message,
        classification=cls,
        settings=intake_settings,
        calendar=calendar,
        now=MON_10,
    ).incident
    assert incident is not None
    with pytest.raises(ConflictError, match="«Новый» в «Дан ответ»"):
        add_answer(
            incident_db,
            incident=incident,
            author=None,
            kind="final",
            text=GOOD_FINAL,
            now=MON_10,
            calendar=calendar,
        )


def test_a_fz59_deadline_extends_once(incident_db, open_incident, calendar) -> None:
    incident = open_incident(kind="email")
    assert incident.sla_policy == "fz59"
    assert incident.final_due_at == datetime(2026, 4, 1, 8, 0, tzinfo=UTC)
    new_due = extend_deadline(
        incident_db,
        incident=incident,
        actor=None,
        reason="Нужна экспертиза",
        now=MON_10,
        calendar=calendar,
    )
    assert new_due == datetime(2026, 5, 1 + 3, 8, 0, tzinfo=UTC)  # 1 May + 2 days off → Mon 4 May
    assert incident.due_at == new_due
    with pytest.raises(ConflictError, match="повторное продление"):
        extend_deadline(
            incident_db, incident=incident, actor=None, reason="Ещё", now=MON_10, calendar=calendar
        )


def test_a_social_deadline_does_not_extend(incident_db, open_incident, calendar) -> None:
    incident = open_incident()
    with pytest.raises(ConflictError, match="не допускает продления"):
        extend_deadline(
            incident_db,
            incident=incident,
            actor=None,
            reason="Прошу",
            now=MON_10,
            calendar=calendar,
        )


def test_clocks_for_the_incident_page(incident_db, open_incident, calendar) -> None:
    incident = open_incident()
    [clock] = clocks(incident, now=MON_10 + timedelta(hours=1), calendar=calendar)
    assert clock.kind == "first_answer" and clock.left == timedelta(hours=7)


def test_an_operator_assigns_an_unrouted_incident(
    incident_db, world, new_message, calendar, intake_settings
) -> None:
    message, cls = new_message(kind="vk", text="Паводок", received=MON_10, block="emergency")
    incident = intake_message(
        incident_db,
        message=message,
        classification=cls,
        settings=intake_settings,
        calendar=calendar,
        now=MON_10,
    ).incident
    assert incident is not None
    with pytest.raises(ConflictError, match="выберите отдел"):
        change_status(
            incident_db,
            incident=incident,
            to_status="assigned",
            actor=None,
            now=MON_10,
            calendar=calendar,
        )
    operator = incident_db.get(User, world.operator)
    assign(
        incident_db,
        incident=incident,
        department_id=world.roads,
        executor_id=None,
        actor=operator,
        now=MON_10,
    )
    assert incident.status == "assigned" and incident.department_id == world.roads
    alerted = incident_db.scalars(select(AlertOutbox.user_id).where(AlertOutbox.kind == "assigned"))
    assert list(alerted) == [world.roads_executor]
    event = history(incident_db, incident)[-1]
    assert event == ("assigned", "new", "assigned")
