"""The escalation job body: reminders, overdue alerts to sector heads, then the coordinator.

The caller commits after each batch and calls again with `after_id=stats.last_id` until a
batch comes back shorter than `limit`. Each step raises `Incident.escalation_level` and
writes its outbox rows in the same transaction; the unique dedupe key and SKIP LOCKED keep
two workers from alerting twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from config.reference import Escalation
from core.calendar import WorkCalendar
from core.models import INCIDENT_STATUSES, Incident
from incidents import audit, pauses, repository, rules

# Statuses whose pending deadline is watched. A paused incident is read too, but skipped
# unless its clock keeps running through the pause (a 59-ФЗ calendar-day term).
WATCHED_STATUSES = ("new", "assigned", "in_progress", "answered", "paused", "reopened")
SKIPPED_STATUSES = tuple(s for s in INCIDENT_STATUSES if s not in WATCHED_STATUSES)


@dataclass(frozen=True, slots=True)
class EscalationSettings:
    """Shares of the allowed working time for reminders; overdue margin before the coordinator."""

    remind_at: tuple[float, ...] = (0.5, 0.8)
    coordinator_after_overdue_working_hours: float = 4.0

    @classmethod
    def from_config(cls, escalation: Escalation) -> EscalationSettings:
        """Settings from config/sla.yaml `escalation`."""
        return cls(
            remind_at=tuple(sorted(escalation.remind_at)),
            coordinator_after_overdue_working_hours=escalation.coordinator_after_overdue_working_hours,
        )

    @property
    def top_level(self) -> int:
        """The level of the last step (coordinator)."""
        return len(self.remind_at) + 2

    def step_name(self, level: int) -> str:
        """remind_50, remind_80, overdue, coordinator."""
        if level <= len(self.remind_at):
            return f"remind_{round(sorted(self.remind_at)[level - 1] * 100)}"
        return "overdue" if level == len(self.remind_at) + 1 else "coordinator"


@dataclass(slots=True)
class EscalationStats:
    """What one batch did; `last_id` is the cursor for the next batch."""

    scanned: int = 0
    escalated: int = 0
    alerts: int = 0
    last_id: int = 0


def clock_start(incident: Incident, *, reopened_at: datetime | None) -> datetime:
    """When the pending deadline's clock started: receipt, the interim answer or a reopening."""
    start = incident.received_at
    if incident.first_answer_due_at is not None and incident.first_answered_at is not None:
        start = max(start, incident.first_answered_at)
    if reopened_at is not None:
        start = max(start, reopened_at)
    return start


@dataclass(slots=True)
class _Batch:
    """Per-batch state: recipients looked up once per (step, block, department, executor)."""

    session: Session
    now: datetime
    settings: EscalationSettings
    rows: list[dict[str, Any]] = field(default_factory=list)
    recipients: dict[tuple[str, str, int | None, int | None], list[int]] = field(
        default_factory=dict
    )
    policies: dict[str, rules.Policy] = field(default_factory=dict)

    def clock_stops_on_pause(self, incident: Incident) -> bool:
        """Whether a pause stops the clock of the incident's pending deadline."""
        code = incident.sla_policy
        if code not in self.policies:
            self.policies[code] = repository.get_policy(self.session, code=code)
        pending = rules.pending_due(
            first_answer_due=incident.first_answer_due_at,
            final_due=incident.final_due_at,
            first_answered=incident.first_answered_at,
            final_answered=incident.final_answered_at,
        )
        return rules.stops_on_pause(self.policies[code], kind=pending[0] if pending else "final")

    def users(self, kind: str, incident: Incident) -> list[int]:
        """Who gets a step of this kind for the incident (cached)."""
        key = (kind, incident.block_code, incident.department_id, incident.executor_id)
        if key not in self.recipients:
            if kind == "reminder":
                found = audit.executors_of(self.session, incident=incident)
            elif kind == "overdue":
                found = audit.heads_of(self.session, incident=incident)
            else:
                found = repository.users_with_role(self.session, role="coordinator")
            self.recipients[key] = found
        return self.recipients[key]


def run_escalation(
    session: Session,
    *,
    now: datetime,
    calendar: WorkCalendar,
    settings: EscalationSettings,
    limit: int = 500,
    after_id: int = 0,
) -> EscalationStats:
    """Emit the escalation steps due at `now` for one batch of incidents (ordered by id)."""
    batch = repository.escalation_batch(
        session,
        skip_statuses=SKIPPED_STATUSES,
        max_level=settings.top_level,
        after_id=after_id,
        limit=limit,
    )
    reopened = repository.last_event_times(
        session, incident_ids=[i.id for i in batch if i.reopen_count], action="reopened"
    )
    resumed = repository.last_event_times(
        session, incident_ids=[i.id for i in batch], action="resumed"
    )
    stats = EscalationStats(scanned=len(batch), last_id=batch[-1].id if batch else after_id)
    work = _Batch(session=session, now=now, settings=settings)
    with session.no_autoflush:  # recipient lookups need no pending rows; flush once below
        for incident in batch:
            stops = work.clock_stops_on_pause(incident)
            if incident.status == "paused" and stops:
                continue
            start = clock_start(incident, reopened_at=reopened.get(incident.id))
            if stops and resumed.get(incident.id, start) > start:
                start = pauses.ladder_start(
                    session, incident=incident, start=start, calendar=calendar
                )
            if _escalate(work, incident=incident, start=start, calendar=calendar):
                stats.escalated += 1
    stats.alerts = repository.insert_alerts(session, rows=work.rows)
    session.flush()
    return stats


def _escalate(work: _Batch, *, incident: Incident, start: datetime, calendar: WorkCalendar) -> bool:
    """Queue this incident's due steps and raise its level; False when nothing was due."""
    assert incident.due_at is not None  # selected with due_at IS NOT NULL
    steps = rules.escalation_steps(
        level=incident.escalation_level,
        start=start,
        due=incident.due_at,
        now=work.now,
        calendar=calendar,
        remind_at=work.settings.remind_at,
        coordinator_after_hours=work.settings.coordinator_after_overdue_working_hours,
    )
    for level in steps:
        _queue_step(work, incident=incident, level=level)
    if steps:
        incident.escalation_level = max(steps)
    return bool(steps)


def _queue_step(work: _Batch, *, incident: Incident, level: int) -> None:
    settings = work.settings
    name = settings.step_name(level)
    if level <= len(settings.remind_at):
        kind = "reminder"
    else:
        kind = "overdue" if level == len(settings.remind_at) + 1 else "escalation"
    users = work.users(kind, incident)
    audit.record(
        work.session,
        incident=incident,
        action="escalated",
        actor=None,
        at=work.now,
        from_status=incident.status,
        to_status=incident.status,
        payload={"step": name, "level": level, "recipients": users},
    )
    work.rows += audit.alert_rows(
        incident=incident,
        kind=kind,
        user_ids=users,
        key=f"esc:{incident.id}:{audit.iso(incident.due_at)}:{name}",
        now=work.now,
        extra={"step": name, "level": level},
    )
