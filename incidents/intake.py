"""Intake: a classified message joins an open incident or opens a new one; merge and split."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from config.reference import SlaFile
from core.calendar import WorkCalendar
from core.models import OPEN_STATUSES, Incident, Message, User
from incidents import audit, repository, rules
from incidents.batch import IntakeBatch
from incidents.rules import NUMBER_PREFIX as NUMBER_PREFIX  # re-exported
from incidents.rules import format_number as format_number  # re-exported
from incidents.text import make_title, merge_fingerprints
from incidents.transitions import assign, refresh_due


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


class ClassificationView(Protocol):
    """What intake reads of a message's classification: a stored row or the pipeline's
    values for one that its batch writes at the end."""

    @property
    def block_code(self) -> str: ...
    @property
    def noise(self) -> bool: ...
    @property
    def urgent(self) -> bool: ...
    @property
    def needs_review(self) -> bool: ...
    @property
    def place(self) -> Mapping[str, Any] | None: ...


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
    batch: IntakeBatch | None = None,
) -> Facts:
    """Place, content words, time of receipt and source kind of a message, gathered once."""
    place = rules.parse_place(place_raw)
    words = tuple(rules.content_words(message.text or "", place))
    key = rules.DupKey(block, place, words, _received(message, now))
    if batch is not None:
        kind = batch.source_kind(message.source_id)
    else:
        kind = repository.source_kind(session, source_id=message.source_id)
    return Facts(message, key, kind or "unknown", urgent, needs_review)


def intake_message(
    session: Session,
    *,
    message: Message,
    classification: ClassificationView,
    settings: IntakeSettings,
    calendar: WorkCalendar,
    now: datetime,
    batch: IntakeBatch | None = None,
) -> IntakeResult:
    """Link a classified message to a duplicate open incident or open a new one (idempotent).

    With a `batch` the writes wait for `batch.finish()` (a new incident has no id until then).
    """
    if message.incident_id is not None:
        linked = repository.get_incident(session, incident_id=message.incident_id)
        return IntakeResult(linked, created=False)
    if batch is not None and (pending := batch.pending_link(message)) is not None:
        return IntakeResult(pending, created=False)
    block = classification.block_code
    if classification.noise or block in settings.noise_blocks:
        message.status = "classified"  # left for the operator's noise queue
        return IntakeResult(None, created=False)
    work = batch if batch is not None else IntakeBatch(session)
    facts = gather_facts(
        session,
        message=message,
        block=block,
        place_raw=classification.place,
        urgent=classification.urgent,
        needs_review=classification.needs_review,
        now=now,
        batch=work,
    )
    found = work.find_duplicate(
        facts.key,
        statuses=OPEN_STATUSES,
        threshold=settings.text_similarity_threshold,
        window=settings.window,
        limit=settings.max_candidates,
    )
    if found is not None:
        match, candidate = found
        incident = work.incident_of(candidate)
        _join(
            session,
            incident=incident,
            facts=facts,
            match=match,
            settings=settings,
            calendar=calendar,
            now=now,
            batch=work,
        )
        work.joined(candidate)
        result = IntakeResult(incident, created=False, match=match)
        work.after_ids(lambda: _settle_match(result))
    else:
        incident = open_incident(
            session, facts=facts, settings=settings, calendar=calendar, now=now, batch=work
        )
        result = IntakeResult(incident, created=True)
    if batch is None:
        work.finish()
    return result


def _settle_match(result: IntakeResult) -> None:
    """A match found in a batch names the incident by its order there: give it the real id."""
    match, incident = result.match, result.incident
    if match is not None and incident is not None and match.incident_id != incident.id:
        result.match = rules.DuplicateMatch(incident.id, match.reason, match.similarity)


def _policy_for(
    batch: IntakeBatch,
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
    return code, rules.compute_due(batch.policy(code), received=received, calendar=calendar)


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
        reopen_count=0,
        escalation_level=0,
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
    batch: IntakeBatch | None = None,
) -> Incident:
    """Open, number, route and announce a new incident for one message.

    With a `batch` the incident gets its id and number at `batch.finish()`.
    """
    work = batch if batch is not None else IntakeBatch(session)
    key, message = facts.key, facts.message
    code, due = _policy_for(
        work, facts=facts, settings=settings, received=key.received_at, calendar=calendar
    )
    incident = _new_row(facts=facts, code=code, due=due, now=now)
    work.opened(incident, calendar=calendar)
    work.link(message, incident)
    audit.record(
        session,
        incident=incident,
        action="created",
        actor=actor,
        at=now,
        to_status="new",
        payload={"message_id": message.id, "source_kind": facts.source_kind, "sla_policy": code},
        batch=work,
    )
    _route(session, incident=incident, now=now, batch=work)
    audit.emit(
        session,
        incident=incident,
        kind="new_incident",
        # The coordinator learns of urgent incidents at once, as sector heads do.
        user_ids=work.sector_heads(incident.block_code)
        + (work.users_with_role("coordinator") if incident.urgent else []),
        key=lambda incident_id: f"new:{incident_id}",
        now=now,
        batch=work,
    )
    if batch is None:
        work.finish()
    return incident


def _route(session: Session, *, incident: Incident, now: datetime, batch: IntakeBatch) -> None:
    route = rules.choose_route(
        batch.routing_rules(incident.block_code),
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
            batch=batch,
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
    batch: IntakeBatch,
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
    flag_modified(incident, "updated_at")  # written even if unchanged: onupdate reads the clock
    batch.link(message, incident)
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
        batch=batch,
    )
    if facts.urgent and not incident.urgent:
        _raise_urgency(
            session,
            incident=incident,
            facts=facts,
            settings=settings,
            calendar=calendar,
            now=now,
            batch=batch,
        )


def _raise_urgency(
    session: Session,
    *,
    incident: Incident,
    facts: Facts,
    settings: IntakeSettings,
    calendar: WorkCalendar,
    now: datetime,
    batch: IntakeBatch,
) -> None:
    """An urgent message makes the incident urgent (and its policy stricter if unanswered)."""
    incident.urgent = True
    old_code = incident.sla_policy
    if incident.first_answered_at is None:
        _apply_stricter_policy(
            batch, incident=incident, facts=facts, settings=settings, calendar=calendar
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
        batch=batch,
    )
    audit.emit(
        session,
        incident=incident,
        kind="urgent",
        user_ids=batch.sector_heads(incident.block_code) + batch.users_with_role("coordinator"),
        key=lambda incident_id: f"urgent:{incident_id}",
        now=now,
        urgent=True,
        batch=batch,
    )


def _apply_stricter_policy(
    batch: IntakeBatch,
    *,
    incident: Incident,
    facts: Facts,
    settings: IntakeSettings,
    calendar: WorkCalendar,
) -> None:
    """Switch to the urgent policy when it gives an earlier deadline than the current one."""
    code, due = _policy_for(
        batch, facts=facts, settings=settings, received=incident.received_at, calendar=calendar
    )
    nearest = due.first_answer_due or due.final_due
    if code == incident.sla_policy or nearest is None:
        return
    if incident.due_at is not None and nearest >= incident.due_at:
        return
    incident.sla_policy = code
    incident.first_answer_due_at, incident.final_due_at = due.first_answer_due, due.final_due
    refresh_due(incident)
