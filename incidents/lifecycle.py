"""Pure incident state machine: which status may follow which, with Russian labels."""

from __future__ import annotations

from collections.abc import Mapping

from core.errors import AppError, ConflictError
from core.models import INCIDENT_STATUSES, OPEN_STATUSES

STATUS_LABELS: Mapping[str, str] = {
    "new": "Новый",
    "assigned": "Назначен",
    "in_progress": "В работе",
    "answered": "Дан ответ",
    "paused": "Ожидает ответа заявителя",
    "resolved": "Решён",
    "rejected": "Отклонён: не по компетенции",
    "closed": "Закрыт",
    "reopened": "Возобновлён",
}

# new → assigned → in_progress → answered → resolved | rejected → closed; paused and back;
# reopened when the citizen says the problem is not solved.
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "new": frozenset({"assigned", "rejected"}),
    "assigned": frozenset({"in_progress", "answered", "paused", "rejected"}),
    "in_progress": frozenset({"answered", "paused", "rejected", "assigned"}),
    "answered": frozenset({"in_progress", "paused", "resolved", "reopened"}),
    "paused": frozenset({"assigned", "in_progress", "answered"}),
    "resolved": frozenset({"closed", "reopened"}),
    "rejected": frozenset({"closed", "reopened"}),
    "closed": frozenset({"reopened"}),
    "reopened": frozenset({"assigned", "in_progress", "paused", "rejected"}),
}

# Event `action` per target status; leaving `paused` is recorded as "resumed".
_ACTIONS: Mapping[str, str] = {
    "assigned": "assigned",
    "in_progress": "taken_in_work",
    "answered": "answered",
    "paused": "paused",
    "resolved": "resolved",
    "rejected": "rejected",
    "closed": "closed",
    "reopened": "reopened",
}

# Statuses from which an incident may be closed as a duplicate of another one (merge).
MERGEABLE_STATUSES = frozenset(OPEN_STATUSES)


class ReasonRequiredError(AppError):
    """A transition needs a reason (and, for a rejection, the competent body)."""


def label(status: str) -> str:
    """Russian label of a status (the code itself if unknown)."""
    return STATUS_LABELS.get(status, status)


def can_transition(from_status: str, to_status: str) -> bool:
    """Whether `to_status` may directly follow `from_status`."""
    return to_status in TRANSITIONS.get(from_status, frozenset())


def check_transition(
    *,
    from_status: str,
    to_status: str,
    reason: str | None = None,
    competent_body: str | None = None,
) -> str:
    """Validate a transition and return its event action; ConflictError when illegal."""
    if to_status not in INCIDENT_STATUSES:
        raise ConflictError(f"Неизвестный статус инцидента «{to_status}»")
    if not can_transition(from_status, to_status):
        raise ConflictError(
            f"Нельзя перевести инцидент из статуса «{label(from_status)}» в «{label(to_status)}»"
        )
    if to_status == "rejected" and not ((reason or "").strip() and (competent_body or "").strip()):
        raise ReasonRequiredError("Для отклонения укажите причину и компетентный орган")
    if to_status == "reopened" and not (reason or "").strip():
        raise ReasonRequiredError("Для возобновления укажите причину")
    return "resumed" if from_status == "paused" else _ACTIONS[to_status]


def check_merge(*, source_status: str, target_status: str) -> None:
    """Both incidents must be open to merge one into the other."""
    for status in (source_status, target_status):
        if status not in MERGEABLE_STATUSES:
            raise ConflictError(f"Нельзя объединять инцидент в статусе «{label(status)}»")


def is_open(status: str) -> bool:
    """Whether the incident still needs work."""
    return status in OPEN_STATUSES
