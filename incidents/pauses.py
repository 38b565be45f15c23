"""The SLA clock stops while an incident waits for the citizen (docs/sla.md, «Пауза»).

On resume the pending deadlines move on by the working time the pause took
(`rules.shift_deadline`). The "resumed" event records the pause and every moved deadline
under `PAUSE_KEY`; the escalation ladder reads those records back, so the share of the
allowed time already used is the same after the pause as before it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from core.calendar import WorkCalendar
from core.models import Incident
from incidents import audit, repository, rules

# Payload key of the "resumed" event; resume events written before pauses moved deadlines
# lack it, and the ladder ignores them (their deadlines were not moved either).
PAUSE_KEY = "pause"

Pause = tuple[datetime, timedelta]


def paused_at(session: Session, *, incident: Incident) -> datetime | None:
    """When the incident was last paused (its latest "paused" event)."""
    times = repository.last_event_times(session, incident_ids=[incident.id], action="paused")
    return times.get(incident.id)


def resume(
    session: Session, *, incident: Incident, now: datetime, calendar: WorkCalendar
) -> dict[str, Any]:
    """Move the pending deadlines on for the pause ending `now`; the resume event's payload.

    The caller refreshes `due_at` without restarting the ladder: the shift keeps the share
    of time used, so the steps already sent stay sent and none fires early.
    """
    began = paused_at(session, incident=incident)
    paused = timedelta(0)
    if began is not None:
        paused = max(timedelta(0), calendar.working_time_between(began, now))
    policy = repository.get_policy(session, code=incident.sla_policy)
    shifts = rules.resume_shifts(incident, policy, paused=paused, calendar=calendar)
    for shift in shifts:
        if shift.kind == "first_answer":
            incident.first_answer_due_at = shift.new
        else:
            incident.final_due_at = shift.new
    record = {
        "paused_at": audit.iso(began),
        "working_seconds": paused.total_seconds(),
        "deadlines": {s.kind: {"old": audit.iso(s.old), "new": audit.iso(s.new)} for s in shifts},
    }
    return {PAUSE_KEY: record}


def recorded_pauses(session: Session, *, incident_id: int) -> list[Pause]:
    """(began, working time) of each pause that a resume event recorded, oldest first."""
    pauses: list[Pause] = []
    for event in repository.events(session, incident_id=incident_id):
        record = event.payload.get(PAUSE_KEY) if event.action == "resumed" else None
        if isinstance(record, dict) and record.get("paused_at"):
            began = datetime.fromisoformat(record["paused_at"])
            pauses.append((began, timedelta(seconds=float(record["working_seconds"]))))
    return pauses


def ladder_start(
    session: Session, *, incident: Incident, start: datetime, calendar: WorkCalendar
) -> datetime:
    """The ladder's clock start moved on by the working time paused since `start`."""
    paused = rules.paused_since(recorded_pauses(session, incident_id=incident.id), start=start)
    return calendar.shift_by_working_time(start, paused)
