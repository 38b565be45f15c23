"""The incident state machine, table-driven over every pair of statuses."""

from __future__ import annotations

import itertools

import pytest

from core.errors import ConflictError
from core.models import INCIDENT_STATUSES
from incidents.lifecycle import (
    STATUS_LABELS,
    ReasonRequiredError,
    can_transition,
    check_merge,
    check_transition,
)

# Written out by hand from the issue, independent of lifecycle.TRANSITIONS.
ALLOWED = {
    ("new", "assigned"),
    ("new", "rejected"),
    ("assigned", "in_progress"),
    ("assigned", "answered"),
    ("assigned", "paused"),
    ("assigned", "rejected"),
    ("in_progress", "answered"),
    ("in_progress", "paused"),
    ("in_progress", "rejected"),
    ("in_progress", "assigned"),
    ("answered", "in_progress"),
    ("answered", "paused"),
    ("answered", "resolved"),
    ("answered", "reopened"),
    ("paused", "assigned"),
    ("paused", "in_progress"),
    ("paused", "answered"),
    ("resolved", "closed"),
    ("resolved", "reopened"),
    ("rejected", "closed"),
    ("rejected", "reopened"),
    ("closed", "reopened"),
    ("reopened", "assigned"),
    ("reopened", "in_progress"),
    ("reopened", "paused"),
    ("reopened", "rejected"),
}
ACTIONS = {
    "assigned": "assigned",
    "in_progress": "taken_in_work",
    "answered": "answered",
    "paused": "paused",
    "resolved": "resolved",
    "rejected": "rejected",
    "closed": "closed",
    "reopened": "reopened",
}
ALL_PAIRS = list(itertools.product(INCIDENT_STATUSES, INCIDENT_STATUSES))


@pytest.mark.parametrize(("from_status", "to_status"), ALL_PAIRS)
def test_every_pair_is_allowed_or_refused_as_specified(from_status: str, to_status: str) -> None:
    kwargs = {"reason": "Вопрос не относится к полномочиям района", "competent_body": "Росреестр"}
    if (from_status, to_status) in ALLOWED:
        action = check_transition(from_status=from_status, to_status=to_status, **kwargs)
        assert action == ("resumed" if from_status == "paused" else ACTIONS[to_status])
        assert can_transition(from_status, to_status)
    else:
        with pytest.raises(ConflictError) as info:
            check_transition(from_status=from_status, to_status=to_status, **kwargs)
        message = str(info.value)
        assert f"из статуса «{STATUS_LABELS[from_status]}»" in message
        assert f"в «{STATUS_LABELS[to_status]}»" in message
        assert not can_transition(from_status, to_status)


def test_the_refusal_reads_naturally_in_russian() -> None:
    with pytest.raises(ConflictError) as info:
        check_transition(from_status="new", to_status="closed")
    assert str(info.value) == "Нельзя перевести инцидент из статуса «Новый» в «Закрыт»"


def test_every_status_has_a_russian_label() -> None:
    assert set(STATUS_LABELS) == set(INCIDENT_STATUSES)
    assert all(any("а" <= ch.lower() <= "я" for ch in text) for text in STATUS_LABELS.values())


def test_leaving_pause_is_recorded_as_resumed() -> None:
    assert check_transition(from_status="paused", to_status="in_progress") == "resumed"
    assert check_transition(from_status="assigned", to_status="paused") == "paused"


@pytest.mark.parametrize(
    ("reason", "body"),
    [(None, "Росреестр"), ("Не наша компетенция", None), ("  ", "  "), (None, None)],
)
def test_rejection_needs_both_a_reason_and_the_competent_body(
    reason: str | None, body: str | None
) -> None:
    with pytest.raises(ReasonRequiredError):
        check_transition(
            from_status="new", to_status="rejected", reason=reason, competent_body=body
        )


def test_reopening_needs_a_reason() -> None:
    with pytest.raises(ReasonRequiredError):
        check_transition(from_status="resolved", to_status="reopened")
    assert (
        check_transition(from_status="resolved", to_status="reopened", reason="Не решено")
        == "reopened"
    )


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ConflictError, match="Неизвестный статус"):
        check_transition(from_status="new", to_status="fixed")


def test_only_open_incidents_merge() -> None:
    check_merge(source_status="new", target_status="answered")
    for finished in ("resolved", "rejected", "closed"):
        with pytest.raises(ConflictError):
            check_merge(source_status=finished, target_status="assigned")
        with pytest.raises(ConflictError):
            check_merge(source_status="assigned", target_status=finished)
