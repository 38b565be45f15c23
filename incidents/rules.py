"""Pure incident rules: duplicates, routing, SLA policy and due dates, clocks, «отписка» check.

Nothing here touches the database or reads the clock: `now` and the calendar come in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol

from core.calendar import WorkCalendar
from incidents.dedupe import (
    DupKey,
    DuplicateMatch,
    Place,
    best_duplicate,
    content_words,
    match_duplicate,
    parse_place,
    places_conflict,
    same_address,
    topics_of,
)
from incidents.formal import FormalCheck, check_formal_reply
from incidents.text import place_key

__all__ = [
    "Clock",
    "DeadlineShift",
    "DeadlineUnit",
    "Deadlines",
    "DupKey",
    "DuplicateMatch",
    "FormalCheck",
    "Place",
    "Policy",
    "RouteRule",
    "best_duplicate",
    "check_formal_reply",
    "choose_policy_code",
    "choose_route",
    "clocks",
    "compute_due",
    "content_words",
    "deadline_unit",
    "escalation_steps",
    "extended_final_due",
    "final_due_after_interim",
    "format_number",
    "match_duplicate",
    "parse_place",
    "paused_since",
    "pending_due",
    "places_conflict",
    "restart_final_due",
    "resume_shifts",
    "same_address",
    "shift_deadline",
    "stops_on_pause",
    "topics_of",
]

NUMBER_PREFIX = "МЦУ"


def format_number(*, incident_id: int, received: datetime, calendar: WorkCalendar) -> str:
    """Tracking number like «МЦУ-2026-000123»: local year of receipt and zero-padded id."""
    year = received.astimezone(calendar.tz).year
    return f"{NUMBER_PREFIX}-{year}-{incident_id:06d}"


@dataclass(frozen=True, slots=True)
class RouteRule:
    """A routing rule: block (+ settlement, + street) → department (and executor)."""

    id: int
    block: str
    department_id: int
    settlement: str | None = None
    street: str | None = None
    executor_id: int | None = None

    @property
    def specificity(self) -> int:
        """2 for block+settlement+street, 1 for block+settlement, 0 for block only."""
        return (self.settlement is not None) + (self.street is not None)


def choose_route(
    rules: Sequence[RouteRule], *, block: str, settlement: str | None, street: str | None
) -> RouteRule | None:
    """The most specific rule matching the block and place (ties: the lowest id)."""
    s_key, t_key = place_key(settlement), place_key(street)
    matching = [
        rule
        for rule in rules
        if rule.block == block
        and (rule.settlement is None or place_key(rule.settlement) == s_key)
        and (rule.street is None or place_key(rule.street) == t_key)
    ]
    if not matching:
        return None
    return min(matching, key=lambda rule: (-rule.specificity, rule.id))


@dataclass(frozen=True, slots=True)
class Policy:
    """An SLA policy as stored in `sla_policies`."""

    code: str
    first_answer_working_hours: float | None = None
    final_answer_working_days: int | None = None
    final_answer_calendar_days: int | None = None
    extension_calendar_days: int | None = None

    @property
    def interim_based(self) -> bool:
        """Social-network style: a first answer in hours, the final N working days after it."""
        return self.first_answer_working_hours is not None


def choose_policy_code(
    assignment: Mapping[str, Mapping[str, str]], *, source_kind: str, urgent: bool, default: str
) -> str:
    """The policy code for a source kind and urgency (config/sla.yaml `assignment`)."""
    choice = assignment.get(source_kind)
    if choice is None:
        return default
    return choice.get("urgent" if urgent else "normal", default)


@dataclass(frozen=True, slots=True)
class Deadlines:
    """Deadlines known at receipt; `final_due` is None until an interim answer for social_*."""

    first_answer_due: datetime | None
    final_due: datetime | None


def compute_due(policy: Policy, *, received: datetime, calendar: WorkCalendar) -> Deadlines:
    """Deadlines of a new incident received at `received`."""
    if policy.first_answer_working_hours is not None:
        first = calendar.add_working_hours(received, policy.first_answer_working_hours)
        return Deadlines(first_answer_due=first, final_due=None)
    return Deadlines(
        first_answer_due=None,
        final_due=restart_final_due(policy, start=received, calendar=calendar),
    )


def final_due_after_interim(
    policy: Policy, *, answered_at: datetime, calendar: WorkCalendar
) -> datetime | None:
    """Final deadline of an interim-based policy: end of the N-th working day after the answer."""
    if not policy.interim_based or policy.final_answer_working_days is None:
        return None
    return calendar.end_of_working_days(answered_at, policy.final_answer_working_days)


def restart_final_due(
    policy: Policy, *, start: datetime, calendar: WorkCalendar
) -> datetime | None:
    """The final deadline counted from `start` (receipt, or a reopening)."""
    if policy.final_answer_working_days is not None:
        return calendar.end_of_working_days(start, policy.final_answer_working_days)
    if policy.final_answer_calendar_days is not None:
        return calendar.calendar_days_deadline(start, policy.final_answer_calendar_days)
    if policy.first_answer_working_hours is not None:
        return calendar.add_working_hours(start, policy.first_answer_working_hours)
    return None


def extended_final_due(
    policy: Policy, *, final_due: datetime, calendar: WorkCalendar
) -> datetime | None:
    """The final deadline after the one allowed extension, or None if the policy has none."""
    if policy.extension_calendar_days is None:
        return None
    return calendar.calendar_days_deadline(final_due, policy.extension_calendar_days)


def pending_due(
    *,
    first_answer_due: datetime | None,
    final_due: datetime | None,
    first_answered: datetime | None,
    final_answered: datetime | None,
) -> tuple[str, datetime] | None:
    """The nearest pending deadline as (kind, due): the first answer until given, then final."""
    if first_answer_due is not None and first_answered is None:
        return ("first_answer", first_answer_due)
    if final_due is not None and final_answered is None:
        return ("final", final_due)
    return None


# How a deadline is counted decides what a pause does to it (docs/sla.md, «Пауза»).
DeadlineUnit = Literal["working_hours", "working_days", "calendar_days"]


def deadline_unit(policy: Policy, *, kind: str) -> DeadlineUnit:
    """How the policy counts the deadline of `kind` ("first_answer" or "final").

    The order mirrors `restart_final_due`; an interim-based final deadline is in working days.
    """
    if kind == "first_answer":
        return "working_hours"
    if policy.final_answer_working_days is not None:
        return "working_days"
    if policy.final_answer_calendar_days is not None:
        return "calendar_days"
    return "working_hours"


def stops_on_pause(policy: Policy, *, kind: str) -> bool:
    """Whether waiting for the citizen stops this deadline's clock.

    A calendar-day term is the legal 59-ФЗ term: the law knows an extension, not a
    suspension, so that clock keeps running while the incident is paused.
    """
    return deadline_unit(policy, kind=kind) != "calendar_days"


def shift_deadline(
    due: datetime, *, unit: DeadlineUnit, paused: timedelta, calendar: WorkCalendar
) -> datetime:
    """The deadline after a pause that took `paused` of working time.

    Hours move by exactly that working time; a day-counted deadline moves the same way and
    then to the end of the working day it lands on (a begun day of pause counts whole);
    a calendar-day deadline does not move.
    """
    if paused < timedelta(0):
        raise ValueError(f"paused must be >= 0, got {paused!r}")
    if unit == "calendar_days" or paused == timedelta(0):
        return due
    moved = calendar.shift_by_working_time(due, paused)
    return calendar.end_of_working_day(moved) if unit == "working_days" else moved


@dataclass(frozen=True, slots=True)
class DeadlineShift:
    """One pending deadline moved on resume: its kind, the old and the new instant."""

    kind: str
    old: datetime
    new: datetime


def resume_shifts(
    incident: Timed, policy: Policy, *, paused: timedelta, calendar: WorkCalendar
) -> list[DeadlineShift]:
    """Every pending (unanswered) deadline of a resumed incident, moved for the pause."""
    pending = (
        ("first_answer", incident.first_answer_due_at, incident.first_answered_at),
        ("final", incident.final_due_at, incident.final_answered_at),
    )
    return [
        DeadlineShift(
            kind,
            due,
            shift_deadline(
                due, unit=deadline_unit(policy, kind=kind), paused=paused, calendar=calendar
            ),
        )
        for kind, due, done in pending
        if due is not None and done is None
    ]


def paused_since(pauses: Sequence[tuple[datetime, timedelta]], *, start: datetime) -> timedelta:
    """Working time of the pauses (began at, working time) that began at or after `start`.

    The escalation ladder moves its clock start on by this much, so the share of the time
    used stays what it was when the incident was paused.
    """
    return sum((length for began, length in pauses if began >= start), timedelta(0))


CLOCK_LABELS = {"first_answer": "Первичный ответ", "final": "Окончательный ответ"}


@dataclass(frozen=True, slots=True)
class Clock:
    """One deadline for the incident page: working time left (negative when overdue).

    A stopped clock (`paused`) shows the time that was left when the incident was paused.
    """

    kind: str
    label: str
    due_at: datetime
    done_at: datetime | None
    left: timedelta
    paused: bool = False

    @property
    def overdue(self) -> bool:
        """True when answered late, or still pending past the deadline."""
        return self.left < timedelta(0)


class Timed(Protocol):
    """What `clocks` reads from an incident (an ORM Incident fits)."""

    first_answer_due_at: datetime | None
    final_due_at: datetime | None
    first_answered_at: datetime | None
    final_answered_at: datetime | None


def clocks(
    incident: Timed,
    *,
    now: datetime,
    calendar: WorkCalendar,
    paused_at: datetime | None = None,
    policy: Policy | None = None,
) -> list[Clock]:
    """Each known deadline with the working time left at `now` (or at the answer, if given).

    For a paused incident pass `paused_at` and its `policy`: the pending deadlines whose
    clock stops are frozen at the pause; a 59-ФЗ calendar-day term keeps counting down.
    """
    result: list[Clock] = []
    pairs = (
        ("first_answer", incident.first_answer_due_at, incident.first_answered_at),
        ("final", incident.final_due_at, incident.final_answered_at),
    )
    for kind, due, done in pairs:
        if due is None:
            continue
        stops = done is None and policy is not None and stops_on_pause(policy, kind=kind)
        frozen_at = paused_at if stops else None
        left = calendar.working_time_between(frozen_at or done or now, due)
        result.append(Clock(kind, CLOCK_LABELS[kind], due, done, left, frozen_at is not None))
    return result


def escalation_steps(
    *,
    level: int,
    start: datetime,
    due: datetime,
    now: datetime,
    calendar: WorkCalendar,
    remind_at: Sequence[float],
    coordinator_after_hours: float,
) -> list[int]:
    """Ladder steps to emit now: reminders 1..k (only the highest), overdue k+1, coordinator k+2."""
    k = len(remind_at)
    reached: list[int] = []
    if now >= due:
        reached.append(k + 1)
        overdue = calendar.working_time_between(due, now)
        if overdue >= timedelta(hours=coordinator_after_hours):
            reached.append(k + 2)
    else:
        allowed = calendar.working_time_between(start, due)
        elapsed = calendar.working_time_between(start, now)
        share = elapsed / allowed if allowed > timedelta(0) else 1.0
        hit = [i + 1 for i, r in enumerate(sorted(remind_at)) if share >= r]
        reached.extend(hit[-1:])
    return [step for step in reached if step > level]
