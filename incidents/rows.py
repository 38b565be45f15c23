"""Incidents as plain rows for the batch path of intake, and what both paths share.

A worker batch opens and joins hundreds of incidents: as ORM objects each costs tens of
microseconds of instrumentation and unit-of-work bookkeeping. The batch keeps them as
`IncidentRow`s instead (same attribute names as `core.models.Incident`) and writes them with
plain bulk statements. The rules that change an incident (`incidents.transitions`,
`incidents.audit`) take either through `IncidentLike`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from typing import Any, NamedTuple, Protocol

from incidents.dedupe import DupKey
from incidents.text import merge_fingerprints


class IncidentLike(Protocol):
    """What the shared rules read and change of an incident (ORM object or plain row)."""

    @property
    def id(self) -> int | None: ...
    @property
    def number(self) -> str | None: ...

    block_code: str
    title: str
    status: str
    urgent: bool
    settlement: str | None
    street: str | None
    house: str | None
    department_id: int | None
    executor_id: int | None
    sla_policy: str
    received_at: datetime
    first_answer_due_at: datetime | None
    final_due_at: datetime | None
    due_at: datetime | None
    first_answered_at: datetime | None
    final_answered_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    escalation_level: int
    updated_at: datetime


@dataclass(slots=True, eq=False)
class IncidentRow:
    """Every column of one incident row (`id` and `number` None until the batch writes it)."""

    id: int | None
    number: str | None
    block_code: str
    title: str
    status: str
    urgent: bool
    needs_review: bool
    settlement: str | None
    street: str | None
    house: str | None
    lat: float | None
    lon: float | None
    department_id: int | None
    executor_id: int | None
    sla_policy: str
    received_at: datetime
    first_answer_due_at: datetime | None
    final_due_at: datetime | None
    due_at: datetime | None
    first_answered_at: datetime | None
    final_answered_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    reopen_count: int
    escalation_level: int
    message_count: int
    text_fingerprint: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> IncidentRow:
        """A row as read from the table (every column)."""
        return cls(**{name: row[name] for name in COLUMNS})

    def values(self) -> dict[str, Any]:
        """Column values for an INSERT or UPDATE."""
        return dict(zip(COLUMNS, _all_columns(self), strict=True))


COLUMNS = tuple(f.name for f in fields(IncidentRow))
_all_columns = attrgetter(*COLUMNS)
# What intake changes when a message joins an incident (the UPDATE of a batch's joins).
JOIN_COLUMNS = (
    "message_count",
    "text_fingerprint",
    "settlement",
    "street",
    "house",
    "lat",
    "lon",
    "urgent",
    "sla_policy",
    "first_answer_due_at",
    "final_due_at",
    "due_at",
    "escalation_level",
    "updated_at",
)


def clip(value: str | None, size: int) -> str | None:
    """The value cut to the column's size (None for empty)."""
    return value[:size] if value else None


class TextAndPlace(NamedTuple):
    """What duplicate search compares of an incident: its fingerprint and place as stored."""

    fingerprint: str | None
    settlement: str | None
    street: str | None
    house: str | None


def after_join(before: TextAndPlace, key: DupKey) -> TextAndPlace:
    """Fingerprint and place of an incident once a message with `key` joined it: the words
    added, the place filled where the incident had none."""
    return TextAndPlace(
        merge_fingerprints([before.fingerprint, " ".join(key.words)]),
        before.settlement or clip(key.place.settlement, 120),
        before.street or clip(key.place.street, 120),
        before.house or clip(key.place.house, 20),
    )


def text_and_place(incident: IncidentRow) -> TextAndPlace:
    """The incident's fingerprint and place."""
    return TextAndPlace(
        incident.text_fingerprint, incident.settlement, incident.street, incident.house
    )
