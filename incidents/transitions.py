"""Status changes with audit, assignment and reopening (used by intake and the service)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy.orm import Session

from core.calendar import WorkCalendar
from core.errors import ConflictError
from core.models import Incident, IncidentEvent, User
from incidents import audit, lifecycle, pauses, repository, rules
from incidents.rows import IncidentLike


def refresh_due(incident: IncidentLike, *, restart_ladder: bool = True) -> None:
    """Set `due_at` to the nearest pending deadline; a new deadline restarts the ladder.

    A deadline moved for a pause keeps the ladder (`restart_ladder=False`): the steps sent
    before the pause still hold, since the share of time used did not change.
    """
    pending = rules.pending_due(
        first_answer_due=incident.first_answer_due_at,
        final_due=incident.final_due_at,
        first_answered=incident.first_answered_at,
        final_answered=incident.final_answered_at,
    )
    due = pending[1] if pending else None
    if due != incident.due_at:
        incident.due_at = due
        if restart_ladder:
            incident.escalation_level = 0


def apply_transition(
    session: Session,
    *,
    incident: Incident,
    to_status: str,
    actor: User | None,
    now: datetime,
    reason: str | None = None,
    competent_body: str | None = None,
    payload: Mapping[str, Any] | None = None,
    calendar: WorkCalendar | None = None,
) -> IncidentEvent:
    """Move the incident to `to_status` if the state machine allows it, and audit the change.

    Leaving `paused` needs the calendar: the pending deadlines move on for the pause.
    """
    from_status = incident.status
    if to_status == "assigned" and incident.department_id is None:
        raise ConflictError("Сначала выберите отдел, которому поручается инцидент")
    action = lifecycle.check_transition(
        from_status=from_status, to_status=to_status, reason=reason, competent_body=competent_body
    )
    extra = dict(payload or {})
    if from_status == "paused":
        if calendar is None:
            raise TypeError("leaving a pause moves the deadlines: pass the calendar")
        extra |= pauses.resume(session, incident=incident, now=now, calendar=calendar)
        refresh_due(incident, restart_ladder=False)
    enter_status(incident, to_status=to_status, now=now)
    if competent_body:
        extra["competent_body"] = competent_body.strip()
    return audit.record(
        session,
        incident=incident,
        action=action,
        actor=actor,
        at=now,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        payload=extra,
    )


def enter_status(incident: IncidentLike, *, to_status: str, now: datetime) -> None:
    """Set the status and what entering it stamps (an allowed transition, checked before)."""
    incident.status = to_status
    incident.updated_at = now
    if to_status == "resolved":
        incident.resolved_at = now
    elif to_status == "closed":
        incident.closed_at = now
    elif to_status == "rejected":
        incident.due_at = None


def assignment(
    incident: IncidentLike,
    *,
    department_id: int,
    executor_id: int | None,
    now: datetime,
    reason: str | None = None,
) -> audit.Change:
    """Give the incident to a department (and executor): its event (`assigned` from new,
    reopened or in progress, else `reassigned`); the ORM path and intake's batch alike."""
    if not lifecycle.is_open(incident.status):
        raise_closed(incident)
    incident.department_id = department_id
    incident.executor_id = executor_id
    who = {"department_id": department_id, "executor_id": executor_id}
    from_status = incident.status
    if from_status not in ("new", "reopened", "in_progress"):
        return audit.Change("reassigned", from_status, from_status, reason, who)
    action = lifecycle.check_transition(
        from_status=from_status, to_status="assigned", reason=reason, competent_body=None
    )
    enter_status(incident, to_status="assigned", now=now)
    return audit.Change(action, from_status, "assigned", reason, who)


def assignment_key(
    department_id: int, executor_id: int | None, now: datetime
) -> Callable[[int], str]:
    """The dedupe key of the alert of an assignment, from the incident's id."""

    def key(incident_id: int) -> str:
        return f"assigned:{incident_id}:{department_id}:{executor_id}:{audit.iso(now)}"

    return key


def assign(
    session: Session,
    *,
    incident: Incident,
    department_id: int,
    executor_id: int | None,
    actor: User | None,
    now: datetime,
    reason: str | None = None,
) -> IncidentEvent:
    """Give the incident to a department (and executor); alert whoever must now act."""
    change = assignment(
        incident, department_id=department_id, executor_id=executor_id, now=now, reason=reason
    )
    event = audit.record_change(session, incident=incident, change=change, actor=actor, at=now)
    users = audit.executors_of(session, incident=incident)
    key = assignment_key(department_id, executor_id, now)(incident.id)
    audit.emit(session, incident=incident, kind="assigned", user_ids=users, key=key, now=now)
    return event


def raise_closed(incident: IncidentLike) -> NoReturn:
    """Refuse to change a finished incident."""
    raise ConflictError(
        f"Инцидент в статусе «{lifecycle.label(incident.status)}»: сначала возобновите его"
    )


def reopen(
    session: Session,
    *,
    incident: Incident,
    actor: User | None,
    reason: str,
    now: datetime,
    calendar: WorkCalendar,
) -> IncidentEvent:
    """Reopen: a new final deadline counted from now, the ladder restarted, heads alerted."""
    event = apply_transition(
        session, incident=incident, to_status="reopened", actor=actor, now=now, reason=reason
    )
    policy = repository.get_policy(session, code=incident.sla_policy)
    incident.reopen_count += 1
    incident.final_answered_at = None
    incident.resolved_at = None
    incident.closed_at = None
    incident.final_due_at = rules.restart_final_due(policy, start=now, calendar=calendar)
    refresh_due(incident)
    incident.escalation_level = 0
    recipients = audit.heads_of(session, incident=incident)
    if incident.executor_id is not None or incident.department_id is not None:
        recipients += audit.executors_of(session, incident=incident)
    audit.emit(
        session,
        incident=incident,
        kind="reopened",
        user_ids=recipients,
        key=f"reopened:{incident.id}:{incident.reopen_count}",
        now=now,
        extra={"reason": reason},
    )
    return event
