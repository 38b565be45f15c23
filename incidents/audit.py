"""Audit events and alert-outbox rows, written in the transaction of the change they report."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from core.models import Incident, IncidentEvent, User
from incidents import repository


def actor_id(actor: User | None) -> int | None:
    """Id of the acting user; None for the system (pipeline, jobs, citizen)."""
    return actor.id if actor is not None else None


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
    event = IncidentEvent(
        incident_id=incident.id,
        actor_id=actor_id(actor),
        at=at,
        action=action,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        payload=dict(payload or {}),
    )
    session.add(event)
    return event


def iso(moment: datetime | None) -> str | None:
    """UTC ISO 8601 for payloads and dedupe keys."""
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def alert_payload(incident: Incident) -> dict[str, Any]:
    """What the alert formatter needs to write a message about the incident."""
    return {
        "incident_id": incident.id,
        "number": incident.number,
        "block": incident.block_code,
        "title": incident.title,
        "settlement": incident.settlement,
        "due_at": iso(incident.due_at),
    }


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
    """Outbox rows, one per distinct recipient, keyed `{key}:{user_id}`."""
    payload = alert_payload(incident) | dict(extra or {})
    return [
        {
            "kind": kind,
            "dedupe_key": f"{key}:{user_id}",
            "user_id": user_id,
            "incident_id": incident.id,
            "urgent": incident.urgent if urgent is None else urgent,
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for user_id in dict.fromkeys(user_ids)
    ]


def emit(
    session: Session,
    *,
    incident: Incident,
    kind: str,
    user_ids: Iterable[int],
    key: str,
    now: datetime,
    urgent: bool | None = None,
    extra: Mapping[str, Any] | None = None,
) -> int:
    """Write the alert rows now; returns how many were new (existing dedupe keys are skipped)."""
    rows = alert_rows(
        incident=incident,
        kind=kind,
        user_ids=user_ids,
        key=key,
        now=now,
        urgent=urgent,
        extra=extra,
    )
    return repository.insert_alerts(session, rows=rows)


def executors_of(session: Session, *, incident: Incident) -> list[int]:
    """The executor, else the department's executors, else the operators (unrouted queue)."""
    if incident.executor_id is not None:
        return [incident.executor_id]
    if incident.department_id is not None:
        return repository.department_users(session, department_id=incident.department_id)
    return repository.users_with_role(session, role="operator")


def heads_of(session: Session, *, incident: Incident) -> list[int]:
    """Sector heads of the incident's block, else the coordinators (someone must know)."""
    heads = repository.sector_heads(session, block=incident.block_code)
    return heads or repository.users_with_role(session, role="coordinator")
