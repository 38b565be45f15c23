"""A batch of intake: lookups made once, duplicates decided in memory, writes at the end.

`app.pipeline.process_messages` takes a worker batch through `intake_message` in one
savepoint with one `IntakeBatch`; a single message outside a worker batch gets a batch of
its own. The batch looks reference data up once (source kinds, SLA policies, routing rules,
sector heads, executors) and keeps each block's duplicate candidates in a `CandidatePool`;
`preload` reads the pools of every block of the batch in one query before the first decision.

Each message is first only *decided*: it joins a candidate or opens a new incident (a plain
`IncidentRow`, added to the pools at once). What it changes is queued as a step. `finish`
then locks every existing incident the batch joins in ONE query (id order, FOR UPDATE on
PostgreSQL), runs the steps in message order (events and alerts as a message-by-message run
would write them), gives the new incidents their ids and numbers and writes everything with
one bulk statement per table (`incidents.repository_bulk`). `finish` must run in the
transaction (savepoint) the batch was made in.

Candidates are read once per block and batch without a lock: the incidents another process
commits meanwhile are not seen until the next batch (intake itself runs in one worker at a
time, see app.jobs), and a joined incident is changed as it is once locked.

A batch may be decided while the batch before it is still being written (app.overlap): that
batch's `Carry` (its new incidents with their ids, and the words and place its joins gave)
is laid over what the database shows, so the pools are those of a batch decided after it.
`seal` gives the new incidents their ids and numbers before the carry is taken.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.calendar import WorkCalendar
from core.errors import NotFoundError
from core.models import Classification, IncidentEvent, Message
from incidents import audit, repository
from incidents import repository_bulk as bulk
from incidents.candidates import PENDING_ORDER, Candidate, CandidatePool, side_of
from incidents.dedupe import DupKey, DuplicateMatch, prepare
from incidents.rows import JOIN_COLUMNS, IncidentRow, TextAndPlace, after_join, text_and_place
from incidents.rules import (
    Deadlines,
    Policy,
    RouteRule,
    choose_route,
    compute_due,
    format_number,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Carry:
    """What a batch being written changes for duplicate search, until it is committed."""

    new: dict[int, tuple[str, datetime, TextAndPlace]]  # id → block, received, words and place
    joined: dict[int, TextAndPlace]  # stored incident id → its words and place after the joins


@dataclass(frozen=True, slots=True)
class _Alert:
    """An emit whose rows wait for the incident's id; payload and urgency as at the emit."""

    incident: IncidentRow
    kind: str
    user_ids: list[int]
    key: Callable[[int], str]
    now: datetime
    urgent: bool
    payload: dict[str, Any]


class IntakeBatch:
    """Per-batch caches, decisions and deferred writes of intake; `finish` writes them."""

    def __init__(self, session: Session, *, carry: Carry | None = None) -> None:
        session.flush()  # pools and locks read the database: it must hold every change so far
        self.session = session
        self._carry = carry
        self._sealed = False
        self._cache: dict[tuple[str, Any], Any] = {}
        self._routes: dict[tuple[str, str | None, str | None], RouteRule | None] = {}
        self._clear()

    def _clear(self) -> None:
        self._pools: dict[tuple[str, int], CandidatePool] = {}
        self._rows: dict[int, IncidentRow] = {}  # by candidate order: new, then locked ones
        self._texts: dict[int, TextAndPlace] = {}  # of the incidents joined in the batch
        self._new: list[tuple[IncidentRow, WorkCalendar]] = []
        self._steps: list[Callable[[], None]] = []
        self._links: dict[int, tuple[Message, IncidentRow]] = {}
        self._classified: dict[int, Message] = {}
        self._decided: dict[int, Any] = {}
        self._classifications: list[dict[str, Any]] = []
        self._events: list[tuple[dict[str, Any], IncidentRow]] = []
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
        """An SLA policy (NotFoundError naming it if absent); all are read in one query."""
        found = self._cached("policies", None, partial(repository.policies_by_code, self.session))
        if code not in found:
            raise repository.policy_not_found(code)
        return found[code]

    def deadlines(self, code: str, *, received: datetime, calendar: WorkCalendar) -> Deadlines:
        """`rules.compute_due` of a policy, once per time of receipt: a collector's pass (and a
        ПОС import) stores all its messages with one."""
        load = partial(compute_due, self.policy(code), received=received, calendar=calendar)
        return self._cached("due", (code, received, id(calendar)), load)

    def routing_rules(self, block: str) -> list[RouteRule]:
        """Routing rules of a block."""
        load = partial(repository.routing_rules_by_block, self.session)
        return self._cached("routes", None, load).get(block, [])

    def route(self, block: str, settlement: str | None, street: str | None) -> RouteRule | None:
        """The routing rule for a block and place (`rules.choose_route`, once per place)."""
        key = (block, settlement, street)
        if key not in self._routes:
            rules = self.routing_rules(block)
            self._routes[key] = choose_route(
                rules, block=block, settlement=settlement, street=street
            )
        return self._routes[key]

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

    # Deciding: duplicate candidates in memory.

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

    def preload(
        self, since: Mapping[str, datetime], *, statuses: Sequence[str], limit: int
    ) -> None:
        """Load the pools of several blocks in one query, each from its earliest `since` (the
        batch's messages known before they are decided); `find_duplicate` then only reads."""
        wanted = {block: at for block, at in since.items() if (block, limit) not in self._pools}
        if not wanted:
            return
        with self.session.no_autoflush:
            if not self._pools:  # the batch's first pools: once per transaction
                repository.plan_candidates_by_block(self.session)
            found = repository.duplicate_candidates_by_block(
                self.session, since=wanted, statuses=statuses, limit=limit
            )
        for block, rows in found.items():
            self._load_pool(block, statuses=statuses, since=wanted[block], limit=limit, rows=rows)

    def _load_pool(
        self,
        block: str,
        *,
        statuses: Sequence[str],
        since: datetime,
        limit: int,
        rows: Sequence[Sequence[Any]] | None = None,
    ) -> CandidatePool:
        """The pool as a query would give it if the batch had been written: stored rows with
        the batch's joins applied, plus the batch's new incidents, the newest `limit`.
        `rows`: the stored rows, read already (`preload`)."""
        if rows is None:
            with self.session.no_autoflush:
                if not self._pools:  # the batch's first pool: once per transaction
                    repository.plan_candidates_by_block(self.session)
                rows = repository.duplicate_candidate_rows(
                    self.session, block=block, statuses=statuses, since=since, limit=limit
                )
        found = []
        joined = self._texts
        carry = self._carry or Carry({}, {})
        stored: set[int] = set()
        for id_, at, settlement, street, house, fingerprint in rows:
            stored.add(id_)
            text = (
                joined.get(id_)
                or carry.joined.get(id_)
                or TextAndPlace(fingerprint, settlement, street, house)
            )
            found.append(Candidate(id_, at, side_of(text), text))
        for id_, (of_block, at, text) in carry.new.items():
            # Not committed yet when the query ran, or committed and returned by it.
            if of_block == block and at >= since and id_ not in stored:
                text = joined.get(id_) or text
                found.append(Candidate(id_, at, side_of(text), text))
        for order, row in self._rows.items():
            if order >= PENDING_ORDER and row.block_code == block and row.received_at >= since:
                text = joined.get(order) or text_and_place(row)
                found.append(Candidate(order, row.received_at, side_of(text), text))
        found.sort(key=lambda c: (c.received_at, c.order), reverse=True)
        pool = CandidatePool(since=since, limit=limit, newest_first=found[:limit])
        self._pools[block, limit] = pool
        return pool

    def joined(self, candidate: Candidate, key: DupKey) -> None:
        """A message joins the candidate's incident: its words and place may grow."""
        before = candidate.text
        candidate.text = text = after_join(before, key)
        self._texts[candidate.order] = text  # what a reload of the pool must show
        if text == before:
            return  # no new word or place: the pools hold its side already
        side = side_of(text)
        for (block, _limit), pool in self._pools.items():
            # Only the pools of its block hold it (a message joins within its own block).
            if block == key.block and pool.holds(candidate):
                pool.refresh(candidate, side)

    def opened(self, row: IncidentRow, *, calendar: WorkCalendar) -> None:
        """A new incident (inserted, numbered and given an id at `finish`)."""
        self._new.append((row, calendar))
        order = PENDING_ORDER + len(self._new)
        self._rows[order] = row
        text = text_and_place(row)
        for (block, _limit), pool in self._pools.items():
            if block == row.block_code:
                pool.add(Candidate(order, row.received_at, side_of(text), text))

    def classified(self, message: Message) -> None:
        """The message is classified (status written at `finish` unless it is linked)."""
        # Written by one statement at `finish`, not one ORM UPDATE per message at the flush.
        set_committed_value(message, "status", "classified")
        self._classified[message.id] = message

    def link(self, message: Message, row: IncidentRow) -> None:
        """The message now belongs to the incident (written with its id at `finish`)."""
        # Status and incident are written together at `finish`, not by a flush before it.
        set_committed_value(message, "status", "linked")
        self._classified.pop(message.id, None)
        self._links[message.id] = (message, row)

    def decided(self, message: Message, outcome: Any) -> None:
        """Remember what intake decided for a message of the batch."""
        self._decided[message.id] = outcome

    def decision(self, message: Message) -> Any | None:
        """What intake decided for this message earlier in the batch, if anything."""
        return self._decided.get(message.id)

    # Applying: steps run at `finish`, in message order, on locked rows.

    def later(self, step: Callable[[], None]) -> None:
        """Run `step` at `finish`, after the joined incidents are locked, in queue order."""
        self._steps.append(step)

    def row_of(self, candidate: Candidate) -> IncidentRow:
        """The candidate's incident (a locked row once `finish` has locked them)."""
        row = self._rows.get(candidate.order)
        if row is None:
            raise NotFoundError(f"Инцидент {candidate.order} не найден")
        return row

    def save_classification(self, classification: Classification | dict[str, Any]) -> None:
        """A classification of a message of the batch (a new row object, or its column values),
        inserted at `finish` with the rest."""
        if isinstance(classification, Classification):
            classification = _insert_row(classification)
        self._classifications.append(classification)

    def record(
        self, row: IncidentRow, change: audit.Change, *, at: datetime, actor: int | None = None
    ) -> None:
        """An event of the incident, inserted at `finish` (when its id is known)."""
        self._events.append(
            (audit.event_values(change, incident_id=row.id, actor=actor, at=at), row)
        )

    def emit(
        self,
        row: IncidentRow,
        *,
        kind: str,
        user_ids: list[int],
        key: Callable[[int], str],
        now: datetime,
        urgent: bool | None = None,
    ) -> None:
        """Outbox rows of one emit, written at `finish`; what they say is taken now."""
        urgency = row.urgent if urgent is None else urgent
        payload = audit.alert_payload(row)
        self._alerts.append(_Alert(row, kind, user_ids, key, now, urgency, payload))

    def after_ids(self, hook: Callable[[], None]) -> None:
        """Run `hook` at `finish` once new incidents have their ids."""
        self._after_ids.append(hook)

    def seal(self) -> None:
        """Give the new incidents their ids and numbers: the batch is decided (idempotent)."""
        if self._sealed:
            return
        self._sealed = True
        if not self._new:
            return
        ids = bulk.reserve_incident_ids(self.session, count=len(self._new))
        for (row, calendar), incident_id in zip(self._new, ids, strict=True):
            row.id = incident_id
            row.number = format_number(
                incident_id=incident_id, received=row.received_at, calendar=calendar
            )

    def carry(self) -> Carry:
        """What the next batch must lay over the database while this one is being written;
        taken after `seal` and before `finish` (whose steps change the rows)."""
        assert self._sealed, "seal() gives the new incidents the ids the carry names"
        new: dict[int, tuple[str, datetime, TextAndPlace]] = {}
        joined: dict[int, TextAndPlace] = {}
        for order, text in self._texts.items():
            if order < PENDING_ORDER:
                joined[order] = text
        for order, row in self._rows.items():
            if order >= PENDING_ORDER:
                assert row.id is not None
                text = self._texts.get(order) or text_and_place(row)
                new[row.id] = (row.block_code, row.received_at, text)
        return Carry(new, joined)

    def finish(self) -> None:
        """Lock the joined incidents, apply the steps, write every row of the batch."""
        session = self.session
        stored = [order for order in self._texts if order < PENDING_ORDER]
        locked = bulk.lock_incidents(session, ids=stored)
        self._rows.update(locked)
        for step in self._steps:
            step()
        self.seal()
        new = [row for row, _ in self._new]
        if new:
            bulk.insert_incidents(session, incidents=new)
        links = [(message, row.id) for message, row in self._links.values() if row.id is not None]
        bulk.link_messages(session, links=links)
        bulk.mark_classified(session, message_ids=list(self._classified))
        for hook in self._after_ids:
            hook()
        events = [values | {"incident_id": row.id} for values, row in self._events]
        bulk.insert_rows(session, _table(IncidentEvent), rows=events)
        bulk.insert_rows(session, _table(Classification), rows=self._classifications)
        bulk.insert_alerts(session, rows=self._alert_rows())
        bulk.update_incidents(session, incidents=list(locked.values()), columns=JOIN_COLUMNS)
        bulk.expire_incidents(session, ids=locked)
        self._clear()
        self._carry, self._sealed = None, False

    def _alert_rows(self) -> list[dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        for alert in self._alerts:
            incident_id = alert.incident.id
            assert incident_id is not None  # given by `finish` before the alerts are written
            payload = alert.payload | {"incident_id": incident_id, "number": alert.incident.number}
            for row in audit.outbox_rows(
                kind=alert.kind,
                key=alert.key(incident_id),
                user_ids=alert.user_ids,
                incident_id=incident_id,
                urgent=alert.urgent,
                payload=payload,
                now=alert.now,
            ):
                rows.setdefault(row["dedupe_key"], row)  # the first emit of a key wins
        return list(rows.values())


def _table(model: Any) -> Any:
    return model.__table__


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
