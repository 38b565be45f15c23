"""Intake: a classified message joins an open incident or opens a new one; merge and split."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from config.reference import SlaFile
from core.calendar import WorkCalendar
from core.models import OPEN_STATUSES, Classification, Incident, Message, User
from incidents import audit, repository, rules
from incidents.text import make_title, merge_fingerprints
from incidents.transitions import assign, refresh_due

NUMBER_PREFIX = "МЦУ"


@dataclass(frozen=True, slots=True)
class IntakeSettings:
    """Intake knobs: SLA assignment (source kind → normal/urgent policy) and duplicate rules."""

    sla_assignment: Mapping[str, Mapping[str, str]]
    default_policy: str = "portal"
    duplicate_window_hours: float = 72.0
    text_similarity_threshold: float = 0.5
    max_candidates: int = 200
    noise_blocks: frozenset[str] = frozenset({"other"})

    @classmethod
    def from_config(cls, sla: SlaFile, **overrides: Any) -> IntakeSettings:
        """Settings from config/sla.yaml (`assignment`), with keyword overrides."""
        assignment = {
            kind: {"normal": choice.normal, "urgent": choice.urgent}
            for kind, choice in sla.assignment.items()
        }
        return cls(sla_assignment=assignment, **overrides)

    @property
    def window(self) -> timedelta:
        """How far back a duplicate may have been received."""
        return timedelta(hours=self.duplicate_window_hours)


@dataclass(slots=True)
class IntakeResult:
    """The incident the message now belongs to (None for noise) and whether it is new."""

    incident: Incident | None
    created: bool
    match: rules.DuplicateMatch | None = field(default=None)


@dataclass(frozen=True, slots=True)
class Facts:
    """What intake needs to know about one message, gathered once."""

    message: Message
    key: rules.DupKey
    source_kind: str
    urgent: bool
    needs_review: bool


def format_number(*, incident_id: int, received: datetime, calendar: WorkCalendar) -> str:
    """Tracking number like «МЦУ-2026-000123»: local year of receipt and zero-padded id."""
    year = received.astimezone(calendar.tz).year
    return f"{NUMBER_PREFIX}-{year}-{incident_id:06d}"


def _received(message: Message, now: datetime) -> datetime:
    return message.received_at or message.created_at or now


def gather_facts(
    session: Session,
    *,
    message: Message,
    block: str,
    place_raw: Mapping[str, Any] | None,
    urgent: bool,
    needs_review: bool,
    now: datetime,
) -> Facts:
    """Place, content words, time of receipt and source kind of a message, gathered once."""
    place = rules.parse_place(place_raw)
    words = tuple(rules.content_words(message.text or "", place))
    key = rules.DupKey(block, place, words, _received(message, now))
    kind = repository.source_kind(session, source_id=message.source_id) or "unknown"
    return Facts(message, key, kind, urgent, needs_review)


def intake_message(
    session: Session,
    *,
    message: Message,
    classification: Classification,
    settings: IntakeSettings,
    calendar: WorkCalendar,
    now: datetime,
) -> IntakeResult:
    """Link a classified message to a duplicate open incident or open a new one (idempotent)."""
    if message.incident_id is not None:
        linked = repository.get_incident(session, incident_id=message.incident_id)
        return IntakeResult(linked, created=False)
    block = classification.block_code
    if classification.noise or block in settings.noise_blocks:
        message.status = "classified"  # left for the operator's noise queue
        return IntakeResult(None, created=False)
    facts = gather_facts(
        session,
        message=message,
        block=block,
        place_raw=classification.place,
        urgent=classification.urgent,
        needs_review=classification.needs_review,
        now=now,
    )
    match = _find_duplicate(session, key=facts.key, settings=settings)
    if match is not None:
        incident = repository.get_incident(session, incident_id=match.incident_id, for_update=True)
        _join(
            session,
            incident=incident,
            facts=facts,
            match=match,
            settings=settings,
            calendar=calendar,
            now=now,
        )
        return IntakeResult(incident, created=False, match=match)
    incident = open_incident(session, facts=facts, settings=settings, calendar=calendar, now=now)
    return IntakeResult(incident, created=True)


def _candidate_key(incident: Incident) -> rules.DupKey:
    place = rules.Place(incident.settlement, incident.street, incident.house)
    words = tuple((incident.text_fingerprint or "").split())
    return rules.DupKey(incident.block_code, place, words, incident.received_at)


def _find_duplicate(
    session: Session, *, key: rules.DupKey, settings: IntakeSettings
) -> rules.DuplicateMatch | None:
    rows = repository.duplicate_candidates(
        session,
        block=key.block,
        statuses=OPEN_STATUSES,
        since=key.received_at - settings.window,
        limit=settings.max_candidates,
    )
    candidates = [(row.id, _candidate_key(row)) for row in rows]
    return rules.best_duplicate(
        key, candidates, threshold=settings.text_similarity_threshold, window=settings.window
    )


def _policy_for(
    session: Session,
    *,
    facts: Facts,
    settings: IntakeSettings,
    received: datetime,
    calendar: WorkCalendar,
) -> tuple[str, rules.Deadlines]:
    code = rules.choose_policy_code(
        settings.sla_assignment,
        source_kind=facts.source_kind,
        urgent=facts.urgent,
        default=settings.default_policy,
    )
    policy = repository.get_policy(session, code=code)
    return code, rules.compute_due(policy, received=received, calendar=calendar)


def _clip(value: str | None, size: int) -> str | None:
    return value[:size] if value else None


def _new_row(*, facts: Facts, code: str, due: rules.Deadlines, now: datetime) -> Incident:
    key, message = facts.key, facts.message
    incident = Incident(
        block_code=key.block,
        title=make_title(message.text or ""),
        status="new",
        urgent=facts.urgent,
        needs_review=facts.needs_review,
        settlement=_clip(key.place.settlement, 120),
        street=_clip(key.place.street, 120),
        house=_clip(key.place.house, 20),
        lat=message.lat,
        lon=message.lon,
        sla_policy=code,
        received_at=key.received_at,
        first_answer_due_at=due.first_answer_due,
        final_due_at=due.final_due,
        message_count=1,
        text_fingerprint=merge_fingerprints([" ".join(key.words)]),
        created_at=now,
        updated_at=now,
    )
    refresh_due(incident)
    return incident


def open_incident(
    session: Session,
    *,
    facts: Facts,
    settings: IntakeSettings,
    calendar: WorkCalendar,
    now: datetime,
    actor: User | None = None,
) -> Incident:
    """Open, number, route and announce a new incident for one message."""
    key, message = facts.key, facts.message
    code, due = _policy_for(
        session, facts=facts, settings=settings, received=key.received_at, calendar=calendar
    )
    incident = _new_row(facts=facts, code=code, due=due, now=now)
    repository.add(session, incident)
    incident.number = format_number(
        incident_id=incident.id, received=key.received_at, calendar=calendar
    )
    message.incident_id, message.status = incident.id, "linked"
    audit.record(
        session,
        incident=incident,
        action="created",
        actor=actor,
        at=now,
        to_status="new",
        payload={"message_id": message.id, "source_kind": facts.source_kind, "sla_policy": code},
    )
    _route(session, incident=incident, now=now)
    audit.emit(
        session,
        incident=incident,
        kind="new_incident",
        user_ids=repository.sector_heads(session, block=incident.block_code),
        key=f"new:{incident.id}",
        now=now,
    )
    session.flush()
    return incident


def _route(session: Session, *, incident: Incident, now: datetime) -> None:
    route = rules.choose_route(
        repository.routing_rules(session, block=incident.block_code),
        block=incident.block_code,
        settlement=incident.settlement,
        street=incident.street,
    )
    if route is not None:
        assign(
            session,
            incident=incident,
            department_id=route.department_id,
            executor_id=route.executor_id,
            actor=None,
            now=now,
            reason=f"Правило маршрутизации №{route.id}",
        )


def _join(
    session: Session,
    *,
    incident: Incident,
    facts: Facts,
    match: rules.DuplicateMatch,
    settings: IntakeSettings,
    calendar: WorkCalendar,
    now: datetime,
) -> None:
    key, message = facts.key, facts.message
    incident.message_count += 1
    incident.text_fingerprint = merge_fingerprints([incident.text_fingerprint, " ".join(key.words)])
    incident.settlement = incident.settlement or _clip(key.place.settlement, 120)
    incident.street = incident.street or _clip(key.place.street, 120)
    incident.house = incident.house or _clip(key.place.house, 20)
    if incident.lat is None and message.lat is not None:
        incident.lat, incident.lon = message.lat, message.lon
    incident.updated_at = now
    message.incident_id, message.status = incident.id, "linked"
    audit.record(
        session,
        incident=incident,
        action="merged_message",
        actor=None,
        at=now,
        payload={
            "message_id": message.id,
            "source_kind": facts.source_kind,
            "reason": match.reason,
            "similarity": round(match.similarity, 3),
        },
    )
    if facts.urgent and not incident.urgent:
        _raise_urgency(
            session, incident=incident, facts=facts, settings=settings, calendar=calendar, now=now
        )
    session.flush()


def _raise_urgency(
    session: Session,
    *,
    incident: Incident,
    facts: Facts,
    settings: IntakeSettings,
    calendar: WorkCalendar,
    now: datetime,
) -> None:
    """An urgent message makes the incident urgent (and its policy stricter if unanswered)."""
    incident.urgent = True
    old_code = incident.sla_policy
    if incident.first_answered_at is None:
        _apply_stricter_policy(
            session, incident=incident, facts=facts, settings=settings, calendar=calendar
        )
    audit.record(
        session,
        incident=incident,
        action="urgent_raised",
        actor=None,
        at=now,
        payload={
            "message_id": facts.message.id,
            "old_policy": old_code,
            "sla_policy": incident.sla_policy,
        },
    )
    audit.emit(
        session,
        incident=incident,
        kind="urgent",
        user_ids=repository.sector_heads(session, block=incident.block_code),
        key=f"urgent:{incident.id}",
        now=now,
        urgent=True,
    )


def _apply_stricter_policy(
    session: Session,
    *,
    incident: Incident,
    facts: Facts,
    settings: IntakeSettings,
    calendar: WorkCalendar,
) -> None:
    """Switch to the urgent policy when it gives an earlier deadline than the current one."""
    code, due = _policy_for(
        session, facts=facts, settings=settings, received=incident.received_at, calendar=calendar
    )
    nearest = due.first_answer_due or due.final_due
    if code == incident.sla_policy or nearest is None:
        return
    if incident.due_at is not None and nearest >= incident.due_at:
        return
    incident.sla_policy = code
    incident.first_answer_due_at, incident.final_due_at = due.first_answer_due, due.final_due
    refresh_due(incident)
