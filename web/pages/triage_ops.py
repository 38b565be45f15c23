"""Operator actions built from the incidents services: correct block, assign, noise, merge.

The block correction has no service of its own yet, so it is composed here from
`incidents.audit`, `incidents.rules.choose_route` and `incidents.service.assign`
(see the report: `incidents.service.change_block` should replace `change_block` below).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from core.calendar import WorkCalendar
from core.errors import AppError, ConflictError, NotFoundError
from core.models import Incident, User
from incidents import audit, lifecycle, rules, service
from incidents import repository as incidents_repo
from web.repository import reference
from web.repository import triage as repo

NOISE_BLOCK = "other"
NOISE_REASON = "Не является обращением: закрыто оператором как шум"
MAX_EXAMPLES_PER_INCIDENT = 20


def label_messages(
    session: Session, *, incident: Incident, block: str, user: User, now: datetime
) -> int:
    """Store the operator's label for the incident's messages; returns how many."""
    # A citizen's «Да, спасибо» to «Проблема решена?» is linked to the incident but says
    # nothing about its block: it must not become a training example.
    messages = [
        m
        for m in repo.incident_messages(session, incident_id=incident.id)
        if not (m.extra or {}).get("feedback")
    ]
    for message in messages[:MAX_EXAMPLES_PER_INCIDENT]:
        repo.store_correction(session, message=message, block=block, user_id=user.id, now=now)
    return min(len(messages), MAX_EXAMPLES_PER_INCIDENT)


def _reroute(session: Session, *, incident: Incident, user: User, now: datetime) -> bool:
    """Assign by the routing table of the new block, if it names someone else."""
    if not lifecycle.is_open(incident.status):
        return False
    route = rules.choose_route(
        incidents_repo.routing_rules(session, block=incident.block_code),
        block=incident.block_code,
        settlement=incident.settlement,
        street=incident.street,
    )
    if route is None or (route.department_id, route.executor_id) == (
        incident.department_id,
        incident.executor_id,
    ):
        return False
    service.assign(
        session,
        incident=incident,
        department_id=route.department_id,
        executor_id=route.executor_id,
        actor=user,
        now=now,
        reason=f"Маршрутизация после смены блока (правило №{route.id})",
    )
    return True


def change_block(
    session: Session, *, incident: Incident, block: str, user: User, now: datetime
) -> str:
    """Correct (or confirm) the block: label the messages, audit, re-route; a notice text."""
    if not reference.block_exists(session, code=block):
        raise NotFoundError(f"Нет блока «{block}»")
    label_messages(session, incident=incident, block=block, user=user, now=now)
    incident.needs_review = False
    incident.updated_at = now
    old = incident.block_code
    if old == block:
        return f"Блок инцидента {incident.number} подтверждён"
    incident.block_code = block
    audit.record(
        session,
        incident=incident,
        action="block_changed",
        actor=user,
        at=now,
        from_status=incident.status,
        to_status=incident.status,
        payload={"from_block": old, "to_block": block},
    )
    routed = _reroute(session, incident=incident, user=user, now=now)
    session.flush()
    return f"Блок инцидента {incident.number} исправлен" + (" и он переназначен" if routed else "")


def assign(
    session: Session,
    *,
    incident: Incident,
    department_id: int,
    executor_id: int | None,
    user: User,
    now: datetime,
) -> str:
    """Give the incident to a department (and one of its executors)."""
    if not reference.department_exists(session, department_id=department_id):
        raise NotFoundError("Нет такого отдела")
    if executor_id is not None and not reference.executor_in(
        session, user_id=executor_id, department_id=department_id
    ):
        raise ConflictError("Исполнитель не работает в выбранном отделе")
    service.assign(
        session,
        incident=incident,
        department_id=department_id,
        executor_id=executor_id,
        actor=user,
        now=now,
        reason="Назначено оператором",
    )
    incident.needs_review = False
    session.flush()
    return f"Инцидент {incident.number} назначен"


def close_as_noise(
    session: Session, *, incident: Incident, user: User, now: datetime, calendar: WorkCalendar
) -> None:
    """Label the messages as noise and reject → close the incident (only from «new» etc.)."""
    if not lifecycle.can_transition(incident.status, "rejected"):
        raise ConflictError(
            f"Инцидент {incident.number} в статусе «{lifecycle.label(incident.status)}»: "
            "закрыть как шум нельзя"
        )
    label_messages(session, incident=incident, block=NOISE_BLOCK, user=user, now=now)
    for to_status in ("rejected", "closed"):
        service.change_status(
            session,
            incident=incident,
            to_status=to_status,
            actor=user,
            now=now,
            calendar=calendar,
            reason=NOISE_REASON,
            competent_body="не требуется (шум)",
        )
    incident.needs_review = False


def merge(
    session: Session, *, incident: Incident, target_ref: str, user: User, now: datetime
) -> Incident:
    """Merge the incident into the one named by number or id."""
    target = repo.incident_by_number_or_id(session, ref=target_ref)
    if target is None:
        raise NotFoundError(f"Инцидент «{target_ref.strip()[:40]}» не найден")
    return service.merge_incidents(session, target=target, source=incident, actor=user, now=now)


def run_bulk(
    incidents: list[Incident], action: Callable[[Incident], object]
) -> tuple[int, list[str]]:
    """Apply an action to each incident; (done, errors): the checks run before any change."""
    done, errors = 0, []
    for incident in incidents:
        try:
            action(incident)
            done += 1
        except AppError as exc:
            errors.append(str(exc))
    return done, errors
