"""Audit events and alert-outbox rows, written in the transaction of the change they report."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from core.models import Incident, IncidentEvent, User
from incidents import repository
from incidents.rows import IncidentLike

# An alert key, or how to make it from the incident's id (new incidents of a batch get it later).
AlertKey = str | Callable[[int], str]


class Directory(Protocol):
    """Who works where, looked up once per batch (`incidents.batch.IntakeBatch`)."""

    def department_users(self, department_id: int) -> list[int]: ...
    def users_with_role(self, role: str) -> list[int]: ...


@dataclass(frozen=True, slots=True)
class Change:
    """What one audit event says: the action, the statuses around it, why, and details."""

    action: str
    from_status: str | None = None
    to_status: str | None = None
    reason: str | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


def actor_id(actor: User | None) -> int | None:
    """Id of the acting user; None for the system (pipeline, jobs, citizen)."""
    return actor.id if actor is not None else None


def event_values(
    change: Change, *, incident_id: int | None, actor: int | None, at: datetime
) -> dict[str, Any]:
    """The column values of an event row (the ORM path and a batch's bulk INSERT alike)."""
    return {
        "incident_id": incident_id,
        "actor_id": actor,
        "at": at,
        "action": change.action,
        "from_status": change.from_status,
        "to_status": change.to_status,
        "reason": change.reason,
        "payload": dict(change.payload),
    }


def record(
    session: Session,
    *,
    incident: Incident,
    action: str,
    actor: User | None,
    at: datetime,
    from_status: str | None = None,
    to_status: str | None = None,
    reason: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> IncidentEvent:
    """Append one event to the incident's history."""
    change = Change(action, from_status, to_status, reason, payload or {})
    return record_change(session, incident=incident, change=change, actor=actor, at=at)


def record_change(
    session: Session, *, incident: Incident, change: Change, actor: User | None, at: datetime
) -> IncidentEvent:
    """Append the event of a change to the incident's history."""
    event = IncidentEvent(
        **event_values(change, incident_id=incident.id, actor=actor_id(actor), at=at)
    )
    session.add(event)
    return event


def iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 for payloads and dedupe keys."""
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def alert_payload(incident: IncidentLike) -> dict[str, Any]:
    """What the alert formatter needs to write a message about the incident."""
    return {
        "incident_id": incident.id,
        "number": incident.number,
        "block": incident.block_code,
        "title": incident.title,
        "settlement": incident.settlement,
        "due_at": iso(incident.due_at),
    }


def outbox_rows(
    *,
    kind: str,
    key: str,
    user_ids: Iterable[int],
    incident_id: int | None,
    urgent: bool,
    payload: Mapping[str, Any],
    now: datetime,
) -> list[dict[str, Any]]:
    """Outbox rows, one per distinct recipient, keyed `{key}:{user_id}`."""
    return [
        {
            "kind": kind,
            "dedupe_key": f"{key}:{user_id}",
            "user_id": user_id,
            "incident_id": incident_id,
            "urgent": urgent,
            "payload": dict(payload),
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for user_id in dict.fromkeys(user_ids)
    ]


def alert_rows(
    *,
    incident: Incident,
    kind: str,
    user_ids: Iterable[int],
    key: str,
    now: datetime,
    urgent: bool | None = None,
    extra: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Outbox rows about the incident, one per distinct recipient, keyed `{key}:{user_id}`."""
    return outbox_rows(
        kind=kind,
        key=key,
        user_ids=user_ids,
        incident_id=incident.id,
        urgent=incident.urgent if urgent is None else urgent,
        payload=alert_payload(incident) | dict(extra or {}),
        now=now,
    )


def emit(
    session: Session,
    *,
    incident: Incident,
    kind: str,
    user_ids: Iterable[int],
    key: AlertKey,
    now: datetime,
    urgent: bool | None = None,
    extra: Mapping[str, Any] | None = None,
) -> int:
    """Write the alert rows; returns how many were new (existing dedupe keys are skipped)."""
    rows = alert_rows(
        incident=incident,
        kind=kind,
        user_ids=user_ids,
        key=key(incident.id) if callable(key) else key,
        now=now,
        urgent=urgent,
        extra=extra,
    )
    return repository.insert_alerts(session, rows=rows)


def executors_of(
    session: Session, *, incident: IncidentLike, batch: Directory | None = None
) -> list[int]:
    """The executor, else the department's executors, else the operators (unrouted queue)."""
    if incident.executor_id is not None:
        return [incident.executor_id]
    if incident.department_id is not None:
        if batch is not None:
            return batch.department_users(incident.department_id)
        return repository.department_users(session, department_id=incident.department_id)
    if batch is not None:
        return batch.users_with_role("operator")
    return repository.users_with_role(session, role="operator")


def heads_of(session: Session, *, incident: Incident) -> list[int]:
    """Sector heads of the incident's block, else the coordinators (someone must know)."""
    heads = repository.sector_heads(session, block=incident.block_code)
    return heads or repository.users_with_role(session, role="coordinator")
