"""Deadlines: property-based invariants of compute_due and worked examples from docs/sla.md."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from core.calendar import WorkCalendar
from incidents.rules import (
    Policy,
    compute_due,
    extended_final_due,
    final_due_after_interim,
    restart_final_due,
)

from .calendar_2026 import CALENDAR_2026, TZ

VL = ZoneInfo(TZ)
CAL = WorkCalendar.from_mapping(CALENDAR_2026, tz=TZ)
SOCIAL_HIGH = Policy("social_high", first_answer_working_hours=4, final_answer_working_days=7)
SOCIAL_NORMAL = Policy("social_normal", first_answer_working_hours=8, final_answer_working_days=7)
PORTAL = Policy("portal", final_answer_working_days=10)
FZ59 = Policy("fz59", final_answer_calendar_days=30, extension_calendar_days=30)

# Receipts anywhere in 2026 up to early December (so 30 + 30 days stay inside the configured year).
received_at = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 10, 15), timezones=st.just(UTC)
).map(lambda d: d.replace(second=0, microsecond=0))
whole_quarter_hours = st.integers(min_value=1, max_value=120).map(lambda q: q / 4)


def local_date(moment: datetime) -> date:
    return moment.astimezone(VL).date()


def working_days_between(after: date, until: date) -> int:
    """Working days d with after < d <= until."""
    count, day = 0, after + timedelta(days=1)
    while day <= until:
        count += CAL.is_working_day(day)
        day += timedelta(days=1)
    return count


def is_day_end(moment: datetime) -> bool:
    local = moment.astimezone(VL)
    end = time(17) if CAL.is_shortened(local.date()) else time(18)
    return CAL.is_working_day(local.date()) and local.timetz().replace(tzinfo=None) == end


@settings(max_examples=200, deadline=None)
@given(received=received_at, hours=whole_quarter_hours)
def test_first_answer_due_is_exactly_n_working_hours_later(
    received: datetime, hours: float
) -> None:
    policy = Policy("social", first_answer_working_hours=hours, final_answer_working_days=7)
    due = compute_due(policy, received=received, calendar=CAL)
    assert due.final_due is None  # known only after the interim answer
    assert due.first_answer_due is not None and due.first_answer_due > received
    assert CAL.working_time_between(received, due.first_answer_due) == timedelta(hours=hours)
    assert due.first_answer_due.tzinfo is not None


@settings(max_examples=200, deadline=None)
@given(received=received_at, days=st.integers(min_value=1, max_value=20))
def test_working_days_due_is_the_end_of_the_nth_working_day(received: datetime, days: int) -> None:
    due = compute_due(Policy("p", final_answer_working_days=days), received=received, calendar=CAL)
    assert due.first_answer_due is None and due.final_due is not None
    assert is_day_end(due.final_due)
    assert working_days_between(local_date(received), local_date(due.final_due)) == days


@settings(max_examples=200, deadline=None)
@given(received=received_at)
def test_fz59_due_is_30_calendar_days_moved_to_a_working_day(received: datetime) -> None:
    final = compute_due(FZ59, received=received, calendar=CAL).final_due
    assert final is not None and is_day_end(final)
    target = local_date(received) + timedelta(days=30)
    assert local_date(final) >= target
    assert working_days_between(target - timedelta(days=1), local_date(final)) == 1


@settings(max_examples=200, deadline=None)
@given(a=received_at, b=received_at)
def test_a_later_receipt_never_gets_an_earlier_deadline(a: datetime, b: datetime) -> None:
    early, late = sorted((a, b))
    for policy in (SOCIAL_HIGH, PORTAL, FZ59):
        d1, d2 = (compute_due(policy, received=r, calendar=CAL) for r in (early, late))
        assert (d1.first_answer_due or d1.final_due) <= (d2.first_answer_due or d2.final_due)  # type: ignore[operator]


@settings(max_examples=100, deadline=None)
@given(received=received_at)
def test_urgent_social_is_never_later_than_normal(received: datetime) -> None:
    high = compute_due(SOCIAL_HIGH, received=received, calendar=CAL).first_answer_due
    normal = compute_due(SOCIAL_NORMAL, received=received, calendar=CAL).first_answer_due
    assert high is not None and normal is not None and high < normal


@settings(max_examples=100, deadline=None)
@given(answered=received_at)
def test_final_after_interim_is_seven_working_days_after_the_answer(answered: datetime) -> None:
    final = final_due_after_interim(SOCIAL_NORMAL, answered_at=answered, calendar=CAL)
    assert final is not None and is_day_end(final)
    assert working_days_between(local_date(answered), local_date(final)) == 7
    assert final_due_after_interim(PORTAL, answered_at=answered, calendar=CAL) is None


@settings(max_examples=100, deadline=None)
@given(received=received_at)
def test_extension_adds_thirty_days_once_per_policy(received: datetime) -> None:
    final = compute_due(FZ59, received=received, calendar=CAL).final_due
    assert final is not None
    extended = extended_final_due(FZ59, final_due=final, calendar=CAL)
    assert extended is not None and is_day_end(extended)
    assert local_date(extended) >= local_date(final) + timedelta(days=30)
    assert extended_final_due(PORTAL, final_due=final, calendar=CAL) is None


def vl(*args: int) -> datetime:
    return datetime(*args, tzinfo=VL)  # type: ignore[misc]


def test_worked_example_social_friday_evening() -> None:
    # Friday 6 March 17:00, 4 working hours: 1 h on Friday, Monday 9 March is a holiday → Tue 12:00.
    due = compute_due(SOCIAL_HIGH, received=vl(2026, 3, 6, 17), calendar=CAL)
    assert due.first_answer_due == vl(2026, 3, 10, 12)


def test_worked_example_portal_ten_working_days() -> None:
    # Monday 2 March 10:00 + 10 working days (the 9th is off) → end of Tuesday 17 March.
    due = compute_due(PORTAL, received=vl(2026, 3, 2, 10), calendar=CAL)
    assert due.final_due == vl(2026, 3, 17, 18)


def test_worked_example_fz59_moves_off_holidays() -> None:
    # Saturday 4 April + 30 days = Monday 4 May, a working day → 18:00.
    due = compute_due(FZ59, received=vl(2026, 4, 4, 11), calendar=CAL)
    assert due.final_due == vl(2026, 5, 4, 18)
    # 1 April + 30 = Friday 1 May (holiday) → next working day Monday 4 May.
    assert compute_due(FZ59, received=vl(2026, 4, 1, 11), calendar=CAL).final_due == vl(
        2026, 5, 4, 18
    )


def test_reopening_restarts_the_final_deadline_from_now() -> None:
    restarted = restart_final_due(SOCIAL_NORMAL, start=vl(2026, 3, 2, 10), calendar=CAL)
    assert restarted == vl(2026, 3, 12, 18)  # 7 working days after Monday 2 March, 9th off
