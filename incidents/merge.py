"""Operators' corrections of intake: merge two incidents, split a message out of one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from core.calendar import WorkCalendar
from core.errors import ConflictError
from core.models import Incident, Message, User
from incidents import audit, lifecycle, repository
from incidents.intake import Facts, IntakeSettings, gather_facts, open_incident
from incidents.text import merge_fingerprints


def merge_incidents(
    session: Session, *, target: Incident, source: Incident, actor: User | None, now: datetime
) -> Incident:
    """Move every message of `source` into `target` and close `source` as merged."""
    if target.id == source.id:
        raise ConflictError("Нельзя объединить инцидент с самим собой")
    lifecycle.check_merge(source_status=source.status, target_status=target.status)
    moved = repository.move_messages(session, from_incident_id=source.id, to_incident_id=target.id)
    target.message_count += moved
    target.urgent = target.urgent or source.urgent
    target.text_fingerprint = merge_fingerprints([target.text_fingerprint, source.text_fingerprint])
    target.updated_at = now
    from_status = source.status
    source.status, source.closed_at, source.due_at = "closed", now, None
    source.message_count = 0
    source.updated_at = now
    audit.record(
        session,
        incident=source,
        action="merged_into",
        actor=actor,
        at=now,
        from_status=from_status,
        to_status="closed",
        reason=f"Дубликат инцидента {target.number}",
        payload={"target_id": target.id, "target_number": target.number, "messages": moved},
    )
    audit.record(
        session,
        incident=target,
        action="merged_from",
        actor=actor,
        at=now,
        from_status=target.status,
        to_status=target.status,
        payload={"source_id": source.id, "source_number": source.number, "messages": moved},
    )
    session.flush()
    return target


def _splittable_incident(session: Session, *, message: Message) -> Incident:
    """The open incident the message belongs to, if it has other messages too."""
    if message.incident_id is None:
        raise ConflictError("Сообщение не привязано к инциденту")
    old = repository.get_incident(session, incident_id=message.incident_id, for_update=True)
    if not lifecycle.is_open(old.status):
        raise ConflictError(
            f"Нельзя выделять сообщение из инцидента в статусе «{lifecycle.label(old.status)}»"
        )
    if len(repository.linked_messages(session, incident_id=old.id)) <= 1:
        raise ConflictError("В инциденте одно сообщение: выделять нечего")
    return old


def _facts_of(
    session: Session, *, message: Message, old: Incident, block: str | None, now: datetime
) -> Facts:
    """Intake facts of the message from its latest classification (or the old incident)."""
    found = repository.latest_classification(session, message_id=message.id)
    return gather_facts(
        session,
        message=message,
        block=block or (found.block_code if found else old.block_code),
        place_raw=found.place if found else None,
        urgent=found.urgent if found else False,
        needs_review=found.needs_review if found else False,
        now=now,
    )


def split_message(
    session: Session,
    *,
    message: Message,
    actor: User | None,
    now: datetime,
    calendar: WorkCalendar,
    settings: IntakeSettings,
    block: str | None = None,
) -> Incident:
    """Take a message out of its incident into a new one (routed and timed like at intake)."""
    old = _splittable_incident(session, message=message)
    facts = _facts_of(session, message=message, old=old, block=block, now=now)
    message.incident_id = None
    new = open_incident(
        session, facts=facts, settings=settings, calendar=calendar, now=now, actor=actor
    )
    old.message_count = max(old.message_count - 1, 1)
    old.updated_at = now
    audit.record(
        session,
        incident=old,
        action="split_out",
        actor=actor,
        at=now,
        payload={"message_id": message.id, "new_incident_id": new.id, "new_number": new.number},
    )
    audit.record(
        session,
        incident=new,
        action="split_from",
        actor=actor,
        at=now,
        payload={"message_id": message.id, "old_incident_id": old.id, "old_number": old.number},
    )
    session.flush()
    return new
