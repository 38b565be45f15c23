"""The SLA clock stops while an incident waits for the citizen: deadlines, audit, the ladder.

Runs on SQLite and PostgreSQL. Times are in the municipality's zone (UTC+10); the 2026
calendar has Monday 9 March off. A VK message takes `social_normal` (8 working hours).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import AlertOutbox, Incident, IncidentEvent
from incidents.escalation import EscalationSettings, run_escalation
from incidents.service import add_answer, change_status, clocks, intake_message

VL = ZoneInfo("Asia/Vladivostok")
INTERIM = "Бригада МУП «Водоканал» направлена, ремонт будет выполнен до 20 марта, мастер Петров."


def vl(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VL)


RECEIVED = vl(2026, 3, 2, 10)  # Monday; social_normal → first answer due Tue 3 March 10:00


@pytest.fixture
def incident_of(incident_db, new_message, calendar, intake_settings):
    """An incident from a message of this source kind, routed to the ЖКХ department."""

    def make(kind: str = "vk", received: datetime = RECEIVED) -> Incident:
        message, cls = new_message(
            kind=kind,
            text="Прорвало трубу",
            received=received,
            place={"settlement": "Амурзет", "street": "Ленина"},
        )
        result = intake_message(
            incident_db,
            message=message,
            classification=cls,
            settings=intake_settings,
            calendar=calendar,
            now=received,
        )
        assert result.incident is not None and result.incident.status == "assigned"
        return result.incident

    return make


@pytest.fixture
def move(incident_db, calendar):
    """Change the incident's status at a moment."""

    def change(incident: Incident, to_status: str, at: datetime) -> None:
        reason = "Уточняем адрес у заявителя" if to_status == "paused" else None
        change_status(
            incident_db,
            incident=incident,
            to_status=to_status,
            actor=None,
            now=at,
            calendar=calendar,
            reason=reason,
        )
        incident_db.flush()

    return change


@pytest.fixture
def ladder(incident_db, calendar, escalation_settings: EscalationSettings):
    """Run the escalation job at a moment; the ladder alerts written so far."""

    def run(now: datetime) -> Counter[tuple[str, int | None]]:
        run_escalation(incident_db, now=now, calendar=calendar, settings=escalation_settings)
        return ladder_alerts(incident_db)

    return run


def ladder_alerts(session: Session) -> Counter[tuple[str, int | None]]:
    kinds = ("reminder", "overdue", "escalation")
    rows = session.scalars(select(AlertOutbox).where(AlertOutbox.kind.in_(kinds)))
    return Counter((row.kind, row.user_id) for row in rows)


def resume_record(session: Session, incident: Incident) -> dict:
    events = session.scalars(
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident.id, IncidentEvent.action == "resumed")
        .order_by(IncidentEvent.id)
    ).all()
    return events[-1].payload["pause"]


def iso(moment: datetime) -> str:
    return moment.astimezone(ZoneInfo("UTC")).isoformat()


def test_resume_moves_the_deadline_by_the_paused_working_time_and_audits_it(
    incident_db, world, incident_of, move
) -> None:
    incident = incident_of()
    assert incident.first_answer_due_at == vl(2026, 3, 3, 10)
    move(incident, "paused", vl(2026, 3, 2, 11))
    assert incident.first_answer_due_at == vl(2026, 3, 3, 10)  # nothing moves until resume
    move(incident, "in_progress", vl(2026, 3, 5, 11))
    # Paused Mon 11:00 → Thu 11:00: 6 + 8 + 8 + 2 = 24 working hours; the 7 hours that were
    # left at the pause are left again: Tue 10:00 + 24 h → Fri 6 March 10:00.
    assert incident.first_answer_due_at == incident.due_at == vl(2026, 3, 6, 10)
    assert resume_record(incident_db, incident) == {
        "paused_at": iso(vl(2026, 3, 2, 11)),
        "working_seconds": 24 * 3600.0,
        "deadlines": {
            "first_answer": {"old": iso(vl(2026, 3, 3, 10)), "new": iso(vl(2026, 3, 6, 10))}
        },
    }


def test_the_ladder_waits_during_the_pause_and_resumes_from_where_it_stood(
    incident_db, world, incident_of, move, ladder
) -> None:
    incident = incident_of()
    move(incident, "paused", vl(2026, 3, 2, 11))  # 1 of 8 working hours used
    for now in (vl(2026, 3, 2, 15), vl(2026, 3, 3, 10), vl(2026, 3, 4, 15), vl(2026, 3, 5, 10)):
        assert ladder(now) == Counter(), now  # 50 %, overdue and the coordinator would be due
    assert incident.escalation_level == 0
    move(incident, "in_progress", vl(2026, 3, 5, 11))
    executors = [world.executor, world.executor2, world.puzino_executor]
    expected: Counter[tuple[str, int | None]] = Counter()
    steps = [
        (vl(2026, 3, 5, 11), []),  # the resume itself fires nothing
        (vl(2026, 3, 5, 14, 59), []),
        (vl(2026, 3, 5, 15), [("reminder", u) for u in executors]),  # 1 h + 3 h = 50 %
        (vl(2026, 3, 5, 17, 23), []),
        (vl(2026, 3, 5, 17, 24), [("reminder", u) for u in executors]),  # 6 h 24 min = 80 %
        (vl(2026, 3, 6, 9, 59), []),
        (vl(2026, 3, 6, 10), [("overdue", world.housing_head)]),  # the moved deadline
        (vl(2026, 3, 6, 15), [("escalation", world.coordinator)]),  # 4 working hours late
    ]
    for now, new_alerts in steps:
        expected.update(new_alerts)
        assert ladder(now) == expected, now
    overdue_key = incident_db.scalars(
        select(AlertOutbox.dedupe_key).where(AlertOutbox.kind == "overdue")
    ).one()
    assert (
        overdue_key == f"esc:{incident.id}:{iso(vl(2026, 3, 6, 10))}:overdue:{world.housing_head}"
    )


def test_steps_sent_before_the_pause_are_not_sent_again(
    incident_db, world, incident_of, move, ladder
) -> None:
    incident = incident_of()
    assert sum(ladder(vl(2026, 3, 2, 15)).values()) == 3  # 50 %: the three ЖКХ executors
    move(incident, "paused", vl(2026, 3, 2, 15))
    move(incident, "in_progress", vl(2026, 3, 4, 15))  # 3 + 8 + 5 = 16 working hours
    assert incident.due_at == vl(2026, 3, 5, 10) and incident.escalation_level == 1
    assert sum(ladder(vl(2026, 3, 4, 15)).values()) == 3
    assert sum(ladder(vl(2026, 3, 4, 17, 23)).values()) == 3
    assert sum(ladder(vl(2026, 3, 4, 17, 24)).values()) == 6  # 80 %, once
    assert incident.escalation_level == 2


def test_an_overdue_incident_comes_back_exactly_as_late_as_it_left(
    incident_db, world, incident_of, move, ladder
) -> None:
    incident = incident_of()
    assert ladder(vl(2026, 3, 3, 10)) == Counter({("overdue", world.housing_head): 1})
    move(incident, "paused", vl(2026, 3, 3, 12))  # 2 working hours late
    move(incident, "in_progress", vl(2026, 3, 4, 12))  # paused 1 + 4 + 3 = 8 working hours
    assert incident.due_at == vl(2026, 3, 4, 10) and incident.escalation_level == 3
    assert ladder(vl(2026, 3, 4, 14, 59)) == Counter({("overdue", world.housing_head): 1})
    assert ladder(vl(2026, 3, 4, 15)) == Counter(  # 2 h before + 2 h after = 4 h late
        {("overdue", world.housing_head): 1, ("escalation", world.coordinator): 1}
    )


def test_two_pauses_both_count_for_the_ladder(
    incident_db, world, incident_of, move, ladder
) -> None:
    incident = incident_of()
    move(incident, "paused", vl(2026, 3, 2, 11))
    move(incident, "in_progress", vl(2026, 3, 2, 12))  # 1 working hour
    move(incident, "paused", vl(2026, 3, 2, 14))
    move(incident, "in_progress", vl(2026, 3, 2, 16))  # 2 working hours
    assert incident.due_at == vl(2026, 3, 3, 13)
    # Used: 10–11 and 12–13 before, so 50 % (4 h) falls at 18:00, not earlier.
    assert ladder(vl(2026, 3, 2, 17, 45)) == Counter()
    assert sum(ladder(vl(2026, 3, 2, 18)).values()) == 3


def test_an_answer_given_on_resume_meets_the_moved_deadline(
    incident_db, world, incident_of, move, calendar
) -> None:
    incident = incident_of()
    move(incident, "paused", vl(2026, 3, 2, 11))
    add_answer(
        incident_db,
        incident=incident,
        author=None,
        kind="interim",
        text=INTERIM,
        now=vl(2026, 3, 5, 11),
        calendar=calendar,
    )
    assert incident.status == "answered"
    assert incident.first_answer_due_at == vl(2026, 3, 6, 10)  # moved: answered in time
    assert incident.first_answered_at == vl(2026, 3, 5, 11)
    # The final deadline starts at the answer, after the pause: 7 working days, not moved.
    assert incident.final_due_at == incident.due_at == vl(2026, 3, 17, 18)
    assert incident.escalation_level == 0
    assert resume_record(incident_db, incident)["deadlines"] == {
        "first_answer": {"old": iso(vl(2026, 3, 3, 10)), "new": iso(vl(2026, 3, 6, 10))}
    }


def test_a_working_day_deadline_moves_to_the_end_of_a_day(
    incident_db, world, incident_of, move
) -> None:
    incident = incident_of("pos")  # portal: 10 working days → Tue 17 March 18:00
    assert incident.final_due_at == vl(2026, 3, 17, 18)
    move(incident, "paused", vl(2026, 3, 3, 10))
    move(incident, "in_progress", vl(2026, 3, 3, 12))  # 2 working hours: a begun day
    assert incident.final_due_at == incident.due_at == vl(2026, 3, 18, 18)


def test_a_pause_outside_working_hours_moves_nothing(incident_db, world, incident_of, move) -> None:
    incident = incident_of()
    move(incident, "paused", vl(2026, 3, 2, 18, 30))
    move(incident, "in_progress", vl(2026, 3, 3, 8, 30))
    assert incident.first_answer_due_at == vl(2026, 3, 3, 10)
    record = resume_record(incident_db, incident)
    assert record["working_seconds"] == 0
    assert record["deadlines"]["first_answer"]["old"] == record["deadlines"]["first_answer"]["new"]


def test_the_59fz_term_runs_on_and_is_chased_during_the_pause(
    incident_db, world, incident_of, move, ladder
) -> None:
    incident = incident_of("email")  # fz59: 30 calendar days → Wed 1 April 18:00
    assert incident.final_due_at == vl(2026, 4, 1, 18)
    move(incident, "paused", vl(2026, 3, 2, 11))
    assert ladder(vl(2026, 4, 1, 18)) == Counter({("overdue", world.housing_head): 1})
    move(incident, "in_progress", vl(2026, 4, 2, 10))
    assert incident.final_due_at == incident.due_at == vl(2026, 4, 1, 18)
    assert resume_record(incident_db, incident)["deadlines"] == {
        "final": {"old": iso(vl(2026, 4, 1, 18)), "new": iso(vl(2026, 4, 1, 18))}
    }


def test_clocks_of_a_paused_incident_are_frozen(
    incident_db, world, incident_of, move, calendar
) -> None:
    incident = incident_of()
    move(incident, "paused", vl(2026, 3, 2, 11))
    [clock] = clocks(incident, now=vl(2026, 3, 5, 10), calendar=calendar)
    assert clock.paused and clock.left == timedelta(hours=7) and not clock.overdue
    move(incident, "in_progress", vl(2026, 3, 5, 11))
    [clock] = clocks(incident, now=vl(2026, 3, 5, 12), calendar=calendar)
    assert not clock.paused and clock.left == timedelta(hours=6)
