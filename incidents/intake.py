"""Intake: a classified message joins an open incident or opens a new one; merge and split."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from sqlalchemy.orm import Session

from config.reference import SlaFile
from core.calendar import WorkCalendar
from core.models import OPEN_STATUSES, Incident, Message, User
from incidents import audit, repository, rules
from incidents.batch import IntakeBatch
from incidents.rows import IncidentRow, after_join, clip, text_and_place
from incidents.rules import NUMBER_PREFIX as NUMBER_PREFIX  # re-exported
from incidents.rules import format_number as format_number  # re-exported
from incidents.text import make_title, merge_fingerprints
from incidents.transitions import assignment, assignment_key, refresh_due


@dataclass(frozen=True, slots=True)
class IntakeSettings:
    """Intake knobs: SLA assignment (source kind → normal/urgent policy) and duplicate rules."""

    sla_assignment: Mapping[str, Mapping[str, str]]
    default_policy: str = "portal"
    duplicate_window_hours: float = 72.0
    text_similarity_threshold: float = 0.5
    max_candidates: int = 200
    noise_blocks: frozenset[str] = frozenset({"other"})
    # How far back a duplicate may have been received (from `duplicate_window_hours`; made
    # once: intake reads it for every message).
    window: timedelta = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "window", timedelta(hours=self.duplicate_window_hours))

    @classmethod
    def from_config(cls, sla: SlaFile, **overrides: Any) -> IntakeSettings:
        """Settings from config/sla.yaml (`assignment`), with keyword overrides."""
        assignment = {
            kind: {"normal": choice.normal, "urgent": choice.urgent}
            for kind, choice in sla.assignment.items()
        }
        return cls(sla_assignment=assignment, **overrides)


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

    incident: Incident | IncidentRow | None
    created: bool
    match: rules.DuplicateMatch | None = field(default=None)


class TextFacts(NamedTuple):
    """What intake derives from a message's text and the place found in it, and nothing else.

    Pure, so the classification helper process works it out ahead of the claim
    (app.readahead) and the single intake thread only reads it. `title` and `fingerprint`
    serve an incident the message opens; None until wanted (see `text_facts`).
    """

    place: rules.Place
    words: tuple[str, ...]
    title: str | None = None
    fingerprint: str | None = None


def text_facts(
    text: str, place_raw: Mapping[str, Any] | None, *, for_new: bool = False
) -> TextFacts:
    """The text facts of a message; with `for_new` also the title and fingerprint of the
    incident it would open (the helper computes them for every message, off this thread)."""
    place = rules.parse_place(place_raw)
    words = tuple(rules.content_words(text, place))
    if not for_new:
        return TextFacts(place, words)
    return TextFacts(place, words, *_title_and_fingerprint(text, words))


def _title_and_fingerprint(text: str, words: tuple[str, ...]) -> tuple[str, str]:
    """The title and text fingerprint of an incident a message with these words opens."""
    return make_title(text), merge_fingerprints([" ".join(words)])


@dataclass(frozen=True, slots=True)
class Facts:
    """What intake needs to know about one message, gathered once."""

    message: Message
    key: rules.DupKey
    source_kind: str
    urgent: bool
    needs_review: bool
    text: TextFacts


def received_of(message: Message, now: datetime) -> datetime:
    """When the message counts as received (duplicate window, deadlines)."""
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
    text: TextFacts | None = None,
) -> Facts:
    """Place, content words, time of receipt and source kind of a message, gathered once.

    `text`: the message's text facts worked out already (of this text and `place_raw`).
    """
    if text is None:
        text = text_facts(message.text or "", place_raw)
    key = rules.DupKey(block, text.place, text.words, received_of(message, now))
    if batch is not None:
        kind = batch.source_kind(message.source_id)
    else:
        kind = repository.source_kind(session, source_id=message.source_id)
    return Facts(message, key, kind or "unknown", urgent, needs_review, text)


def preload_candidates(
    batch: IntakeBatch,
    messages: Iterable[tuple[Message, ClassificationView]],
    *,
    settings: IntakeSettings,
    now: datetime,
) -> None:
    """Read the duplicate candidates of every block the messages will be compared in, in
    one query, before they are decided (the pools `find_duplicate` would load one by one)."""
    since: dict[str, datetime] = {}
    for message, classification in messages:
        block = classification.block_code
        if message.incident_id is not None or classification.noise:
            continue
        if block in settings.noise_blocks:
            continue
        start = received_of(message, now) - settings.window
        if block not in since or start < since[block]:
            since[block] = start
    batch.preload(since, statuses=OPEN_STATUSES, limit=settings.max_candidates)


def intake_message(
    session: Session,
    *,
    message: Message,
    classification: ClassificationView,
    settings: IntakeSettings,
    calendar: WorkCalendar,
    now: datetime,
    batch: IntakeBatch | None = None,
    text: TextFacts | None = None,
) -> IntakeResult:
    """Link a classified message to a duplicate open incident or open a new one (idempotent).

    `text`: the message's text facts, when the classification helper worked them out.

    Without a `batch` the message is a batch of its own, written at once, and the result
    holds the ORM incident. With one, it is decided now and written at `batch.finish()`:
    the result holds the batch's `IncidentRow` (a new one has no id until then; the incident
    of a join is set at `finish`).
    """
    if message.incident_id is not None:
        linked = repository.get_incident(session, incident_id=message.incident_id)
        return IntakeResult(linked, created=False)
    if batch is not None and (earlier := batch.decision(message)) is not None:
        return _again(batch, earlier)
    block = classification.block_code
    if classification.noise or block in settings.noise_blocks:
        # Left for the operator's noise queue.
        if batch is not None:
            batch.classified(message)
        else:
            message.status = "classified"
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
        text=text,
    )
    found = work.find_duplicate(
        facts.key,
        statuses=OPEN_STATUSES,
        threshold=settings.text_similarity_threshold,
        window=settings.window,
        limit=settings.max_candidates,
    )
    if found is None:
        row = _open(work, facts=facts, settings=settings, calendar=calendar, now=now)
        result = IntakeResult(row, created=True)
    else:
        match, candidate = found
        result = IntakeResult(None, created=False, match=match)
        work.joined(candidate, facts.key)

        def join() -> None:
            row = work.row_of(candidate)
            result.incident = row
            _join(
                work,
                row=row,
                facts=facts,
                match=match,
                settings=settings,
                calendar=calendar,
                now=now,
            )

        work.later(join)
        work.after_ids(lambda: _settle_match(result))
    work.decided(message, result)
    if batch is None:
        work.finish()
        if isinstance(result.incident, IncidentRow):
            result.incident = _loaded(session, result.incident)
    return result


def _again(batch: IntakeBatch, earlier: IntakeResult) -> IntakeResult:
    """A message taken twice in a batch: its incident again, not a new decision."""
    again = IntakeResult(earlier.incident, created=False)

    def settle() -> None:
        again.incident = earlier.incident  # a join's incident is known at `finish`

    batch.after_ids(settle)
    return again


def _loaded(session: Session, row: IncidentRow) -> Incident:
    """The ORM incident of a row the batch wrote."""
    assert row.id is not None  # given at `finish`
    return repository.get_incident(session, incident_id=row.id)


def _settle_match(result: IntakeResult) -> None:
    """A match found in a batch names the incident by its order there: give it the real id."""
    match, incident = result.match, result.incident
    if match is not None and incident is not None and incident.id not in (None, match.incident_id):
        assert incident.id is not None
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
    return code, batch.deadlines(code, received=received, calendar=calendar)


def _new_row(*, facts: Facts, code: str, due: rules.Deadlines, now: datetime) -> IncidentRow:
    key, message, text = facts.key, facts.message, facts.text
    if text.title is not None and text.fingerprint is not None:  # worked out ahead
        title, fingerprint = text.title, text.fingerprint
    else:
        title, fingerprint = _title_and_fingerprint(message.text or "", key.words)
    row = IncidentRow(
        id=None,
        number=None,
        block_code=key.block,
        title=title,
        status="new",
        urgent=facts.urgent,
        needs_review=facts.needs_review,
        settlement=clip(key.place.settlement, 120),
        street=clip(key.place.street, 120),
        house=clip(key.place.house, 20),
        lat=message.lat,
        lon=message.lon,
        department_id=None,
        executor_id=None,
        sla_policy=code,
        received_at=key.received_at,
        first_answer_due_at=due.first_answer_due,
        final_due_at=due.final_due,
        due_at=None,
        first_answered_at=None,
        final_answered_at=None,
        resolved_at=None,
        closed_at=None,
        reopen_count=0,
        escalation_level=0,
        message_count=1,
        text_fingerprint=fingerprint,
        created_at=now,
        updated_at=now,
    )
    refresh_due(row)
    return row


def open_incident(
    session: Session,
    *,
    facts: Facts,
    settings: IntakeSettings,
    calendar: WorkCalendar,
    now: datetime,
    actor: User | None = None,
) -> Incident:
    """Open, number, route and announce a new incident for one message, written at once."""
    work = IntakeBatch(session)
    row = _open(work, facts=facts, settings=settings, calendar=calendar, now=now, actor=actor)
    work.finish()
    return _loaded(session, row)


def _open(
    batch: IntakeBatch,
    *,
    facts: Facts,
    settings: IntakeSettings,
    calendar: WorkCalendar,
    now: datetime,
    actor: User | None = None,
) -> IncidentRow:
    """The new incident's row, now; its routing, events and alerts as a step of the batch."""
    code, due = _policy_for(
        batch, facts=facts, settings=settings, received=facts.key.received_at, calendar=calendar
    )
    row = _new_row(facts=facts, code=code, due=due, now=now)
    batch.opened(row, calendar=calendar)
    batch.link(facts.message, row)
    payload = {"message_id": facts.message.id, "source_kind": facts.source_kind, "sla_policy": code}

    def announce() -> None:
        created = audit.Change("created", to_status="new", payload=payload)
        batch.record(row, created, at=now, actor=audit.actor_id(actor))
        _route(batch, row=row, now=now)
        # The coordinator learns of urgent incidents at once, as sector heads do.
        heads = batch.sector_heads(row.block_code)
        users = heads + (batch.users_with_role("coordinator") if row.urgent else [])
        batch.emit(row, kind="new_incident", user_ids=users, key=lambda i: f"new:{i}", now=now)

    batch.later(announce)
    return row


def _route(batch: IntakeBatch, *, row: IncidentRow, now: datetime) -> None:
    route = batch.route(row.block_code, row.settlement, row.street)
    if route is None:
        return
    change = assignment(
        row,
        department_id=route.department_id,
        executor_id=route.executor_id,
        now=now,
        reason=f"Правило маршрутизации №{route.id}",
    )
    batch.record(row, change, at=now)
    users = audit.executors_of(batch.session, incident=row, batch=batch)
    key = assignment_key(route.department_id, route.executor_id, now)
    batch.emit(row, kind="assigned", user_ids=users, key=key, now=now)


def _join(
    batch: IntakeBatch,
    *,
    row: IncidentRow,
    facts: Facts,
    match: rules.DuplicateMatch,
    settings: IntakeSettings,
    calendar: WorkCalendar,
    now: datetime,
) -> None:
    key, message = facts.key, facts.message
    row.message_count += 1
    text = after_join(text_and_place(row), key)
    row.text_fingerprint, row.settlement, row.street, row.house = (
        text.fingerprint,
        text.settlement,
        text.street,
        text.house,
    )
    if row.lat is None and message.lat is not None:
        row.lat, row.lon = message.lat, message.lon
    row.updated_at = now
    batch.link(message, row)
    payload = {
        "message_id": message.id,
        "source_kind": facts.source_kind,
        "reason": match.reason,
        "similarity": round(match.similarity, 3),
    }
    batch.record(row, audit.Change("merged_message", payload=payload), at=now)
    if facts.urgent and not row.urgent:
        _raise_urgency(batch, row=row, facts=facts, settings=settings, calendar=calendar, now=now)


def _raise_urgency(
    batch: IntakeBatch,
    *,
    row: IncidentRow,
    facts: Facts,
    settings: IntakeSettings,
    calendar: WorkCalendar,
    now: datetime,
) -> None:
    """An urgent message makes the incident urgent (and its policy stricter if unanswered)."""
    row.urgent = True
    old_code = row.sla_policy
    if row.first_answered_at is None:
        _apply_stricter_policy(batch, row=row, facts=facts, settings=settings, calendar=calendar)
    payload = {"message_id": facts.message.id, "old_policy": old_code, "sla_policy": row.sla_policy}
    batch.record(row, audit.Change("urgent_raised", payload=payload), at=now)
    users = batch.sector_heads(row.block_code) + batch.users_with_role("coordinator")
    batch.emit(
        row, kind="urgent", user_ids=users, key=lambda i: f"urgent:{i}", now=now, urgent=True
    )


def _apply_stricter_policy(
    batch: IntakeBatch,
    *,
    row: IncidentRow,
    facts: Facts,
    settings: IntakeSettings,
    calendar: WorkCalendar,
) -> None:
    """Switch to the urgent policy when it gives an earlier deadline than the current one."""
    code, due = _policy_for(
        batch, facts=facts, settings=settings, received=row.received_at, calendar=calendar
    )
    nearest = due.first_answer_due or due.final_due
    if code == row.sla_policy or nearest is None:
        return
    if row.due_at is not None and nearest >= row.due_at:
        return
    row.sla_policy = code
    row.first_answer_due_at, row.final_due_at = due.first_answer_due, due.final_due
    refresh_due(row)
