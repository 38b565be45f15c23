"""A batch of intake: lookups made once, duplicate candidates in memory, writes at the end.

`app.pipeline.process_messages` takes a worker batch through `intake_message` in one
savepoint with one `IntakeBatch`. The batch looks reference data up once (source kinds,
SLA policies, routing rules, sector heads, executors), keeps each block's duplicate
candidates in a `CandidatePool`, and defers the writes: new incidents are inserted together
at `finish`, which then numbers them, links their messages and writes the events and alert
rows that name their ids. Until `finish` a new incident has no id or number, and `finish`
must run in the transaction (savepoint) the batch was made in.
Without a batch every intake call makes one of its own and finishes it at once.

Candidates are read once per block and batch: incidents another worker commits meanwhile are
not seen until the next batch (duplicate search across concurrent workers was never exact).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.calendar import WorkCalendar
from core.models import Classification, Incident, IncidentEvent, Message
from incidents import audit, repository
from incidents.candidates import (
    PENDING_ORDER,
    Candidate,
    CandidatePool,
    incident_side,
    side_of,
)
from incidents.dedupe import DupKey, DuplicateMatch, prepare
from incidents.rules import Policy, RouteRule, format_number

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Alert:
    """An emit whose rows wait for the incident's id; payload and urgency as at the emit."""

    incident: Incident
    kind: str
    user_ids: list[int]
    key: Callable[[int], str]
    now: datetime
    urgent: bool
    payload: dict[str, Any]


class IntakeBatch:
    """Per-batch caches and deferred writes of intake; `finish` writes them (no commit)."""

    def __init__(self, session: Session) -> None:
        session.flush()  # pools and locks read the database: it must hold every change so far
        self.session = session
        self._cache: dict[tuple[str, Any], Any] = {}
        self._clear()

    def _clear(self) -> None:
        self._pools: dict[tuple[str, int], CandidatePool] = {}
        self._locked: dict[int, Incident] = {}
        self._new: list[tuple[Incident, WorkCalendar]] = []
        self._links: dict[int, tuple[Message, Incident]] = {}
        self._classifications: list[dict[str, Any]] = []
        self._events: list[tuple[IncidentEvent, Incident]] = []
        self._alerts: list[_Alert] = []
        self._after_ids: list[Callable[[], None]] = []

    def _cached(self, kind: str, key: Any, load: Callable[[], T]) -> T:
        if (kind, key) not in self._cache:
            with self.session.no_autoflush:  # reference data does not depend on pending rows
                self._cache[kind, key] = load()
        value: T = self._cache[kind, key]
        return value

    def source_kind(self, source_id: int) -> str | None:
        """Kind of a message's source."""
        kinds = self._cached("kinds", None, partial(repository.source_kinds, self.session))
        if source_id not in kinds:  # a source added during the batch
            kinds[source_id] = repository.source_kind(self.session, source_id=source_id) or ""
        return kinds[source_id] or None

    def policy(self, code: str) -> Policy:
        """An SLA policy (NotFoundError naming it if absent)."""
        return self._cached("policy", code, partial(repository.get_policy, self.session, code=code))

    def routing_rules(self, block: str) -> list[RouteRule]:
        """Routing rules of a block."""
        load = partial(repository.routing_rules_by_block, self.session)
        return self._cached("routes", None, load).get(block, [])

    def sector_heads(self, block: str) -> list[int]:
        """Active sector heads of a block (a copy: callers may extend it)."""
        load = partial(repository.sector_heads_by_block, self.session)
        return list(self._cached("heads", None, load).get(block, ()))

    def department_users(self, department_id: int) -> list[int]:
        """Active executors of a department (a copy)."""
        load = partial(repository.department_users_by_department, self.session)
        return list(self._cached("departments", None, load).get(department_id, ()))

    def users_with_role(self, role: str) -> list[int]:
        """Active users with a role (a copy)."""
        load = partial(repository.users_with_role, self.session, role=role)
        return list(self._cached("role", role, load))

    def find_duplicate(
        self,
        key: DupKey,
        *,
        statuses: Sequence[str],
        threshold: float,
        window: timedelta,
        limit: int,
    ) -> tuple[DuplicateMatch, Candidate] | None:
        """The best open incident for a message, with its candidate entry (see candidates.py)."""
        since = key.received_at - window
        pool = self._pools.get((key.block, limit))
        if pool is None or not pool.covers(since):
            pool = self._load_pool(key.block, statuses=statuses, since=since, limit=limit)
        side = prepare(key.words, key.place)
        return pool.best(side, received_at=key.received_at, threshold=threshold, window=window)

    def _load_pool(
        self, block: str, *, statuses: Sequence[str], since: datetime, limit: int
    ) -> CandidatePool:
        if (block, limit) in self._pools or any(i.block_code == block for i, _ in self._new):
            self.session.flush()  # a reload must see the incidents opened and joined so far
        opened = {incident.id: incident for incident, _ in self._new if incident.id is not None}
        known = self._locked | opened
        with self.session.no_autoflush:
            rows = repository.duplicate_candidate_rows(
                self.session, block=block, statuses=statuses, since=since, limit=limit
            )
        pool = CandidatePool(
            since=since,
            limit=limit,
            newest_first=[
                Candidate(id_, at, side_of(fingerprint, settlement, street, house), known.get(id_))
                for id_, at, settlement, street, house, fingerprint in rows
            ],
        )
        self._pools[block, limit] = pool
        return pool

    def incident_of(self, candidate: Candidate) -> Incident:
        """The candidate's incident, row-locked once per batch (its own new ones need no lock)."""
        if candidate.incident is None:
            with self.session.no_autoflush:  # nothing of this incident is pending yet
                candidate.incident = repository.get_incident(
                    self.session, incident_id=candidate.order, for_update=True
                )
            self._locked[candidate.order] = candidate.incident
        return candidate.incident

    def joined(self, candidate: Candidate) -> None:
        """A message joined the candidate's incident: its words and place may have grown."""
        if candidate.incident is None:
            return
        for pool in self._pools.values():
            if pool.holds(candidate):
                pool.refresh(candidate, incident_side(candidate.incident))

    def opened(self, incident: Incident, *, calendar: WorkCalendar) -> None:
        """A new incident (added now, inserted and numbered at `finish`)."""
        self.session.add(incident)
        self._new.append((incident, calendar))
        for (block, _limit), pool in self._pools.items():
            if block == incident.block_code:
                order = PENDING_ORDER + len(self._new)
                side = incident_side(incident)
                pool.add(Candidate(order, incident.received_at, side, incident))

    def link(self, message: Message, incident: Incident) -> None:
        """The message now belongs to the incident (written with its id at `finish`)."""
        # Status and incident are written together at `finish`, not by a flush before it.
        set_committed_value(message, "status", "linked")
        self._links[message.id] = (message, incident)

    def pending_link(self, message: Message) -> Incident | None:
        """The new incident of this batch the message was linked to, if any."""
        link = self._links.get(message.id)
        return link[1] if link is not None else None

    def save_classification(self, classification: Classification | dict[str, Any]) -> None:
        """A classification of a message of the batch (a new row object, or its column values),
        inserted at `finish` with the rest."""
        if isinstance(classification, Classification):
            classification = _insert_row(classification)
        self._classifications.append(classification)

    def add_event(self, event: IncidentEvent, incident: Incident) -> None:
        """An event of the incident, added at `finish` (when its id is known)."""
        self._events.append((event, incident))

    def add_alerts(
        self,
        *,
        incident: Incident,
        kind: str,
        user_ids: list[int],
        key: Callable[[int], str],
        now: datetime,
        urgent: bool,
        payload: dict[str, Any],
    ) -> None:
        """Outbox rows of one emit, written at `finish` with the incident's id and number."""
        self._alerts.append(_Alert(incident, kind, user_ids, key, now, urgent, payload))

    def after_ids(self, hook: Callable[[], None]) -> None:
        """Run `hook` at `finish` once new incidents have their ids."""
        self._after_ids.append(hook)

    def finish(self) -> None:
        """Insert the new incidents, then number them and write links, events and alerts."""
        session = self.session
        unsaved = [(incident, calendar) for incident, calendar in self._new if incident.id is None]
        ids = repository.reserve_incident_ids(session, count=len(unsaved)) if unsaved else None
        for (incident, calendar), incident_id in zip(unsaved, ids or (), strict=False):
            incident.id = incident_id
            incident.number = _number(incident, calendar)
        session.flush()  # new incidents are inserted (given their ids here, or getting them)
        repository.set_numbers(
            session,
            numbered=[(i, _number(i, calendar)) for i, calendar in self._new if i.number is None],
        )
        links = [(message, incident.id) for message, incident in self._links.values()]
        repository.link_messages(session, links=links)
        for hook in self._after_ids:
            hook()
        for event, incident in self._events:
            event.incident_id = incident.id
        events = [_insert_row(event) for event, _ in self._events]
        repository.insert_rows(session, IncidentEvent, rows=events)
        repository.insert_rows(session, Classification, rows=self._classifications)
        repository.add_alerts(session, rows=self._alert_rows())
        self._clear()

    def _alert_rows(self) -> list[dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        for alert in self._alerts:
            incident = alert.incident
            payload = alert.payload | {"incident_id": incident.id, "number": incident.number}
            for row in audit.outbox_rows(
                kind=alert.kind,
                key=alert.key(incident.id),
                user_ids=alert.user_ids,
                incident_id=incident.id,
                urgent=alert.urgent,
                payload=payload,
                now=alert.now,
            ):
                rows.setdefault(row["dedupe_key"], row)  # the first emit of a key wins
        return list(rows.values())


def _number(incident: Incident, calendar: WorkCalendar) -> str:
    return format_number(incident_id=incident.id, received=incident.received_at, calendar=calendar)


def _insert_row(obj: Any) -> dict[str, Any]:
    """Column values of a transient ORM object for a plain INSERT, column defaults applied."""
    row: dict[str, Any] = {}
    for column in obj.__table__.columns:
        if column.primary_key:
            continue
        value = getattr(obj, column.key)
        default = column.default
        if value is None and default is not None:
            value = default.arg(None) if default.is_callable else default.arg
        row[column.key] = value
    return row
