"""The weekly rating leaves the time an incident waited for the citizen out of answer hours.

Week 2026-W47 (16–22.11.2026, Asia/Vladivostok): Mon 16 … Fri 20 are working days,
09:00–18:00 with lunch 13:00–14:00. Every number below is counted by hand.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from core.calendar import WorkCalendar
from core.models import Answer, Block, Department, Incident, IncidentEvent, SlaPolicy
from rating.scoring import RatingConfig
from rating.service import compute_week

VLAD = ZoneInfo("Asia/Vladivostok")
CONFIG = RatingConfig(volume=0.2, speed=0.4, completeness=0.4, min_incidents=2, prior_strength=5)
AFTER_W47 = datetime(2026, 11, 23, 9, 0, tzinfo=VLAD)


def L(day: int, hour: int, minute: int = 0) -> datetime:
    """A local Vladivostok instant in November 2026."""
    return datetime(2026, 11, day, hour, minute, tzinfo=VLAD)


def _incident(session: Session, department_id: int, **fields: Any) -> Incident:
    incident = Incident(
        block_code="housing", title="обращение", sla_policy="social", department_id=department_id
    )
    for name, value in fields.items():
        setattr(incident, name, value)
    session.add(incident)
    session.flush()
    return incident


def _pause(session: Session, incident: Incident, began: datetime, ended: datetime | None) -> None:
    """The history of one pause as the application writes it ("paused", then "resumed")."""
    session.add(
        IncidentEvent(
            incident_id=incident.id,
            at=began,
            action="paused",
            from_status="assigned",
            to_status="paused",
        )
    )
    if ended is not None:
        session.add(
            IncidentEvent(
                incident_id=incident.id,
                at=ended,
                action="resumed",
                from_status="paused",
                to_status="in_progress",
                payload={"pause": {"paused_at": began.isoformat()}},
            )
        )


def _scenario(session: Session) -> None:
    session.add(Block(code="housing", name="ЖКХ"))
    session.add(SlaPolicy(code="social", name="Соцсети"))
    department = Department(code="gkh", name="Отдел ЖКХ")
    session.add(department)
    session.flush()
    gkh = department.id
    # A: Mon 10:00 → Tue 12:00 is 10 working hours; paused Mon 11:00 – Tue 11:00 (8 h): 2 h.
    a = _incident(session, gkh, received_at=L(16, 10), first_answer_due_at=L(18, 10),
                  first_answered_at=L(17, 12), status="answered")  # fmt: skip
    _pause(session, a, L(16, 11), L(17, 11))
    session.add(Answer(incident_id=a.id, kind="interim", text="ответ", created_at=L(17, 12)))
    # B: Mon 10:00 → 15:00 is 4 h; a pause begun after the answer changes nothing.
    b = _incident(session, gkh, received_at=L(16, 10), first_answer_due_at=L(17, 10),
                  first_answered_at=L(16, 15), status="paused")  # fmt: skip
    _pause(session, b, L(17, 9), None)
    session.add(Answer(incident_id=b.id, kind="interim", text="ответ", created_at=L(16, 15)))
    # C: no answer; judged at its deadline Thu 10:00. Wed 10:00 → as_of is 23 h, of which the
    # pause still open since Wed 11:00 takes 22 h: 1 h.
    c = _incident(session, gkh, received_at=L(18, 10), first_answer_due_at=L(19, 10),
                  status="paused")  # fmt: skip
    _pause(session, c, L(18, 11), None)
    session.flush()


def test_answer_hours_leave_the_pauses_out(rating_db: Session, work_calendar: WorkCalendar) -> None:
    _scenario(rating_db)
    statements: list[str] = []

    def remember(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = rating_db.get_bind()
    event.listen(engine, "before_cursor_execute", remember)
    try:
        result = compute_week(
            rating_db, week="2026-W47", calendar=work_calendar, weights=CONFIG, now=AFTER_W47
        )
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    gkh = next(unit for unit in result.units if unit.key == "gkh")
    assert (gkh.counts.judged, gkh.counts.on_time) == (3, 2)
    # Hours 2, 4, 1 (with the pauses: 10, 4, 23): median 2, p90 2 + 0.8 · (4 − 2) = 3.6.
    assert gkh.median_hours == pytest.approx(2.0, abs=1e-9)
    assert gkh.p90_hours == pytest.approx(3.6, abs=1e-9)
    # The week's pauses are read in one query, not one per incident.
    assert sum("incident_events" in sql for sql in statements) == 1
