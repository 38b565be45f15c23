"""Incident use cases: intake, transitions, answers, feedback, deadlines, merge and split.

Functions take the session and may flush; the request dependency or the job commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session, object_session

from core.calendar import WorkCalendar
from core.errors import AppError, ConflictError
from core.models import Answer, CitizenFeedback, Incident, IncidentEvent, User
from incidents import audit, lifecycle, pauses, repository, rules
from incidents.intake import IntakeResult, IntakeSettings, format_number, intake_message
from incidents.lifecycle import STATUS_LABELS, ReasonRequiredError
from incidents.merge import merge_incidents, split_message
from incidents.transitions import apply_transition, assign, refresh_due, reopen

__all__ = [
    "STATUS_LABELS",
    "IntakeResult",
    "IntakeSettings",
    "add_answer",
    "assign",
    "change_status",
    "clocks",
    "extend_deadline",
    "format_number",
    "intake_message",
    "merge_incidents",
    "record_feedback",
    "reopen",
    "split_message",
]

ANSWER_KINDS = ("interim", "final")
VERDICTS = ("yes", "partial", "no")


def change_status(
    session: Session,
    *,
    incident: Incident,
    to_status: str,
    actor: User | None,
    now: datetime,
    calendar: WorkCalendar,
    reason: str | None = None,
    competent_body: str | None = None,
) -> IncidentEvent:
    """Any status change the state machine allows (reopening restarts the final deadline)."""
    if to_status == "reopened":
        return reopen(
            session, incident=incident, actor=actor, reason=reason or "", now=now, calendar=calendar
        )
    return apply_transition(
        session,
        incident=incident,
        to_status=to_status,
        actor=actor,
        now=now,
        reason=reason,
        competent_body=competent_body,
        calendar=calendar,
    )


def clocks(incident: Incident, *, now: datetime, calendar: WorkCalendar) -> list[rules.Clock]:
    """Deadlines of the incident with working time left (negative when overdue).

    While the incident is paused, the clocks a pause stops are frozen at the pause.
    """
    session = object_session(incident)
    if incident.status != "paused" or session is None:
        return rules.clocks(incident, now=now, calendar=calendar)
    return rules.clocks(
        incident,
        now=now,
        calendar=calendar,
        paused_at=pauses.paused_at(session, incident=incident) or now,
        policy=repository.get_policy(session, code=incident.sla_policy),
    )


def _prepare_answer_status(
    session: Session, *, incident: Incident, author: User | None, now: datetime
) -> None:
    """Refuse answers the state machine forbids; a reopened incident is taken into work first."""
    if incident.status == "answered":
        return
    if incident.status == "reopened":
        apply_transition(session, incident=incident, to_status="in_progress", actor=author, now=now)
    lifecycle.check_transition(from_status=incident.status, to_status="answered")


def _stamp_answer(
    session: Session, *, incident: Incident, kind: str, now: datetime, calendar: WorkCalendar
) -> None:
    """Answer times; an interim answer starts the final deadline of social-network policies."""
    policy = repository.get_policy(session, code=incident.sla_policy)
    if incident.first_answered_at is None:
        incident.first_answered_at = now
    if kind == "interim" and incident.final_due_at is None:
        incident.final_due_at = rules.final_due_after_interim(
            policy, answered_at=now, calendar=calendar
        )
    if kind == "final":
        incident.final_answered_at = now


def add_answer(
    session: Session,
    *,
    incident: Incident,
    author: User | None,
    kind: str,
    text: str,
    now: datetime,
    calendar: WorkCalendar,
) -> Answer:
    """Record an interim or final answer, flag an «отписка» and move the deadlines on."""
    if kind not in ANSWER_KINDS:
        raise AppError(f"Неизвестный вид ответа «{kind}»: ожидается interim или final")
    if not text.strip():
        raise AppError("Текст ответа пуст")
    _prepare_answer_status(session, incident=incident, author=author, now=now)
    previous = repository.previous_answer_texts(
        session, incident_id=incident.id, department_id=incident.department_id
    )
    check = rules.check_formal_reply(text, previous_answers=previous)
    answer = Answer(
        incident_id=incident.id,
        author_id=audit.actor_id(author),
        kind=kind,
        text=text.strip(),
        formal_reply=check.flagged,
        formal_reasons=list(check.reasons),
        created_at=now,
    )
    repository.add(session, answer)
    payload = {"answer_id": answer.id, "kind": kind, "formal_reply": check.flagged}
    if incident.status != "answered":
        # Before the stamps: an answer that ends a pause first moves the deadlines it meets.
        apply_transition(
            session,
            incident=incident,
            to_status="answered",
            actor=author,
            now=now,
            payload=payload,
            calendar=calendar,
        )
    _stamp_answer(session, incident=incident, kind=kind, now=now, calendar=calendar)
    audit.record(
        session,
        incident=incident,
        action="answer_added",
        actor=author,
        at=now,
        from_status=incident.status,
        to_status=incident.status,
        payload=payload | {"formal_reasons": list(check.reasons)},
    )
    refresh_due(incident)
    incident.updated_at = now
    session.flush()
    return answer


def record_feedback(
    session: Session,
    *,
    incident: Incident,
    verdict: str,
    comment: str | None,
    channel: str | None,
    now: datetime,
    calendar: WorkCalendar,
) -> CitizenFeedback:
    """The citizen's verdict: «нет» reopens the incident, «да» resolves it, «частично» is noted."""
    if verdict not in VERDICTS:
        raise AppError(f"Неизвестный ответ заявителя «{verdict}»: ожидается yes, partial или no")
    feedback = CitizenFeedback(
        incident_id=incident.id, verdict=verdict, comment=comment, channel=channel, created_at=now
    )
    repository.add(session, feedback)
    audit.record(
        session,
        incident=incident,
        action="feedback",
        actor=None,
        at=now,
        from_status=incident.status,
        to_status=incident.status,
        reason=comment,
        payload={"verdict": verdict, "channel": channel, "feedback_id": feedback.id},
    )
    if verdict == "no" and lifecycle.can_transition(incident.status, "reopened"):
        reason = "Заявитель сообщил, что проблема не решена" + (f": {comment}" if comment else "")
        reopen(session, incident=incident, actor=None, reason=reason, now=now, calendar=calendar)
    elif verdict == "yes" and lifecycle.can_transition(incident.status, "resolved"):
        apply_transition(
            session,
            incident=incident,
            to_status="resolved",
            actor=None,
            now=now,
            reason="Заявитель подтвердил решение",
        )
    session.flush()
    return feedback


def extend_deadline(
    session: Session,
    *,
    incident: Incident,
    actor: User | None,
    reason: str,
    now: datetime,
    calendar: WorkCalendar,
) -> datetime:
    """Extend the final deadline once (59-ФЗ: up to 30 days, with a reason told to the citizen)."""
    if not reason.strip():
        raise ReasonRequiredError("Для продления срока укажите причину")
    repository.get_incident(session, incident_id=incident.id, for_update=True)
    policy = repository.get_policy(session, code=incident.sla_policy)
    if policy.extension_calendar_days is None:
        raise ConflictError(f"Политика «{policy.code}» не допускает продления срока")
    if (
        not lifecycle.is_open(incident.status)
        or incident.final_due_at is None
        or incident.final_answered_at
    ):
        raise ConflictError("У инцидента нет срока окончательного ответа, который можно продлить")
    if repository.count_events(session, incident_id=incident.id, action="deadline_extended"):
        raise ConflictError("Срок уже продлевался: повторное продление не допускается")
    old_due = incident.final_due_at
    new_due = rules.extended_final_due(policy, final_due=old_due, calendar=calendar)
    assert new_due is not None  # the policy has an extension, checked above
    incident.final_due_at = new_due
    refresh_due(incident)
    incident.updated_at = now
    audit.record(
        session,
        incident=incident,
        action="deadline_extended",
        actor=actor,
        at=now,
        from_status=incident.status,
        to_status=incident.status,
        reason=reason.strip(),
        payload={"old_due": audit.iso(old_due), "new_due": audit.iso(new_due)},
    )
    session.flush()
    return new_due
