"""A pause while waiting for the citizen: how each kind of deadline moves, clocks, the ladder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.calendar import WorkCalendar
from incidents.rules import (
    DeadlineShift,
    Policy,
    clocks,
    compute_due,
    deadline_unit,
    escalation_steps,
    paused_since,
    resume_shifts,
    shift_deadline,
    stops_on_pause,
)

from .calendar_2026 import CALENDAR_2026, TZ

VL = ZoneInfo(TZ)
CAL = WorkCalendar.from_mapping(CALENDAR_2026, tz=TZ)
SOCIAL = Policy("social_normal", first_answer_working_hours=8, final_answer_working_days=7)
PORTAL = Policy("portal", final_answer_working_days=10)
FZ59 = Policy("fz59", final_answer_calendar_days=30, extension_calendar_days=30)
HOURS_ONLY = Policy("hours", first_answer_working_hours=4)
PROPS = settings(deadline=None, max_examples=150)
UNITS = ("working_hours", "working_days", "calendar_days")

moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 10, 31), timezones=st.just(UTC)
).map(lambda d: d.replace(second=0, microsecond=0))
pauses = st.integers(min_value=0, max_value=20 * 8 * 60).map(lambda m: timedelta(minutes=m))


def vl(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VL)


def is_day_end(moment: datetime) -> bool:
    return moment == CAL.end_of_working_day(moment) and CAL.working_intervals(
        moment.astimezone(VL).date()
    )[-1][1] == moment.astimezone(VL)


def timed(**fields: datetime | None) -> SimpleNamespace:
    empty = dict.fromkeys(
        ("first_answer_due_at", "final_due_at", "first_answered_at", "final_answered_at")
    )
    return SimpleNamespace(**(empty | fields))


@pytest.mark.parametrize(
    ("policy", "kind", "unit"),
    [
        (SOCIAL, "first_answer", "working_hours"),
        (SOCIAL, "final", "working_days"),
        (PORTAL, "final", "working_days"),
        (FZ59, "final", "calendar_days"),
        (HOURS_ONLY, "final", "working_hours"),  # reopened: restarted in working hours
    ],
)
def test_each_deadline_knows_how_it_is_counted(policy: Policy, kind: str, unit: str) -> None:
    assert deadline_unit(policy, kind=kind) == unit
    assert stops_on_pause(policy, kind=kind) is (unit != "calendar_days")


def test_worked_examples() -> None:
    hours, days = timedelta(hours=24), timedelta(hours=2)
    # Due Tue 3 March 10:00, paused 24 working hours: 7 h Tue, 8 h Wed, 8 h Thu, 1 h Fri.
    first = vl(2026, 3, 3, 10)
    assert shift_deadline(first, unit="working_hours", paused=hours, calendar=CAL) == vl(
        2026, 3, 6, 10
    )
    # A 10-working-day deadline (Tue 17 March 18:00) and a pause of 2 working hours:
    # a begun day of pause counts whole → the end of Wed 18 March.
    portal = vl(2026, 3, 17, 18)
    assert shift_deadline(portal, unit="working_days", paused=days, calendar=CAL) == vl(
        2026, 3, 18, 18
    )
    # Fri 6 March 18:00 + 1 h: Monday 9 March is a holiday → the end of Tuesday 10 March.
    assert shift_deadline(
        vl(2026, 3, 6, 18), unit="working_days", paused=timedelta(hours=1), calendar=CAL
    ) == vl(2026, 3, 10, 18)
    # The 59-ФЗ term is not suspended by a pause.
    fz = vl(2026, 4, 1, 18)
    assert shift_deadline(fz, unit="calendar_days", paused=hours, calendar=CAL) == fz


def test_a_negative_pause_is_refused() -> None:
    with pytest.raises(ValueError, match="paused"):
        shift_deadline(vl(2026, 3, 3, 10), unit="working_hours", paused=timedelta(-1), calendar=CAL)


@PROPS
@given(due=moments, unit=st.sampled_from(UNITS))
def test_a_pause_of_no_working_time_moves_nothing(due: datetime, unit: str) -> None:
    assert shift_deadline(due, unit=unit, paused=timedelta(0), calendar=CAL) == due  # type: ignore[arg-type]


@PROPS
@given(due=moments, unit=st.sampled_from(UNITS), p=pauses, q=pauses)
def test_a_longer_pause_never_gives_an_earlier_deadline(
    due: datetime, unit: str, p: timedelta, q: timedelta
) -> None:
    short, long = sorted((p, q))
    early = shift_deadline(due, unit=unit, paused=short, calendar=CAL)  # type: ignore[arg-type]
    late = shift_deadline(due, unit=unit, paused=long, calendar=CAL)  # type: ignore[arg-type]
    assert due <= early <= late


@PROPS
@given(received=moments, paused=pauses)
def test_working_hours_move_by_exactly_the_paused_working_time(
    received: datetime, paused: timedelta
) -> None:
    due = CAL.add_working_hours(received, 8)
    moved = shift_deadline(due, unit="working_hours", paused=paused, calendar=CAL)
    assert CAL.working_time_between(due, moved) == paused


@PROPS
@given(received=moments, days=st.integers(min_value=1, max_value=15), paused=pauses)
def test_day_deadlines_stay_at_a_day_end_and_move_at_most_one_day_more(
    received: datetime, days: int, paused: timedelta
) -> None:
    due = compute_due(Policy("p", final_answer_working_days=days), received=received, calendar=CAL)
    assert due.final_due is not None
    moved = shift_deadline(due.final_due, unit="working_days", paused=paused, calendar=CAL)
    assert is_day_end(moved)
    given_back = CAL.working_time_between(due.final_due, moved)
    assert paused <= given_back < paused + timedelta(hours=8)


@st.composite
def off_hours_pause(draw: st.DrawFn) -> tuple[datetime, datetime]:
    """A pause that starts and ends inside one stretch of non-working time."""
    day = draw(
        st.dates(min_value=datetime(2026, 1, 1).date(), max_value=datetime(2026, 11, 30).date())
    )
    intervals = CAL.working_intervals(day)
    gap_start = intervals[-1][1] if intervals else datetime.combine(day, datetime.min.time(), VL)
    next_day = day + timedelta(days=1)
    while not CAL.working_intervals(next_day):
        next_day += timedelta(days=1)
    gap_end = CAL.working_intervals(next_day)[0][0]
    span = int((gap_end - gap_start).total_seconds())
    a, b = sorted(draw(st.integers(min_value=0, max_value=span)) for _ in range(2))
    return gap_start + timedelta(seconds=a), gap_start + timedelta(seconds=b)


@PROPS
@given(pause=off_hours_pause(), received=moments)
def test_a_pause_outside_working_hours_moves_no_working_hours_deadline(
    pause: tuple[datetime, datetime], received: datetime
) -> None:
    paused = CAL.working_time_between(*pause)
    assert paused == timedelta(0)
    incident = timed(first_answer_due_at=CAL.add_working_hours(received, 4))
    [shift] = resume_shifts(incident, SOCIAL, paused=paused, calendar=CAL)
    assert shift.new == shift.old


def test_only_pending_deadlines_move() -> None:
    answered = timed(
        first_answer_due_at=vl(2026, 3, 3, 10),
        first_answered_at=vl(2026, 3, 2, 12),
        final_due_at=vl(2026, 3, 12, 18),
    )
    assert resume_shifts(answered, SOCIAL, paused=timedelta(hours=2), calendar=CAL) == [
        DeadlineShift("final", vl(2026, 3, 12, 18), vl(2026, 3, 13, 18))
    ]
    done = timed(
        first_answer_due_at=vl(2026, 3, 3, 10),
        first_answered_at=vl(2026, 3, 2, 12),
        final_due_at=vl(2026, 3, 12, 18),
        final_answered_at=vl(2026, 3, 2, 12),
    )
    assert resume_shifts(done, SOCIAL, paused=timedelta(hours=2), calendar=CAL) == []


def test_paused_since_counts_only_pauses_after_the_clock_start() -> None:
    recorded = [(vl(2026, 3, 2, 11), timedelta(hours=3)), (vl(2026, 3, 5, 11), timedelta(hours=2))]
    assert paused_since(recorded, start=vl(2026, 3, 2, 10)) == timedelta(hours=5)
    assert paused_since(recorded, start=vl(2026, 3, 4, 10)) == timedelta(hours=2)
    assert paused_since(recorded, start=vl(2026, 3, 6, 10)) == timedelta(0)


def test_a_paused_clock_is_frozen_at_the_pause() -> None:
    incident = timed(first_answer_due_at=vl(2026, 3, 3, 10))  # received Mon 10:00, 8 h
    paused_at, later = vl(2026, 3, 2, 11), vl(2026, 3, 5, 16)
    [clock] = clocks(incident, now=later, calendar=CAL, paused_at=paused_at, policy=SOCIAL)
    assert clock.paused and clock.left == timedelta(hours=7) and not clock.overdue
    [running] = clocks(incident, now=later, calendar=CAL)
    assert not running.paused and running.overdue


def test_a_paused_59fz_clock_keeps_running_and_answered_clocks_stay_done() -> None:
    fz = timed(final_due_at=vl(2026, 4, 1, 18))
    [clock] = clocks(
        fz, now=vl(2026, 4, 2, 10), calendar=CAL, paused_at=vl(2026, 3, 20, 10), policy=FZ59
    )
    assert not clock.paused and clock.overdue
    answered = timed(first_answer_due_at=vl(2026, 3, 3, 10), first_answered_at=vl(2026, 3, 2, 12))
    [done] = clocks(
        answered, now=vl(2026, 3, 5, 10), calendar=CAL, paused_at=vl(2026, 3, 2, 13), policy=SOCIAL
    )
    assert not done.paused and done.left == timedelta(hours=6)


def ladder(level: int, start: datetime, due: datetime, now: datetime) -> list[int]:
    return escalation_steps(
        level=level,
        start=start,
        due=due,
        now=now,
        calendar=CAL,
        remind_at=(0.5, 0.8),
        coordinator_after_hours=4,
    )


@PROPS
@given(
    received=moments,
    hours=st.integers(min_value=1, max_value=16),
    used=st.floats(min_value=0, max_value=1.5),
    paused=pauses,
    level=st.integers(min_value=0, max_value=4),
)
def test_after_a_pause_the_ladder_stands_where_it_stood_at_the_pause(
    received: datetime, hours: int, used: float, paused: timedelta, level: int
) -> None:
    due = CAL.add_working_hours(received, hours)
    paused_at = CAL.add_working_hours(received, round(hours * used * 4) / 4)
    resumed_at = CAL.shift_by_working_time(paused_at, paused)
    new_due = shift_deadline(due, unit="working_hours", paused=paused, calendar=CAL)
    new_start = CAL.shift_by_working_time(
        received, paused_since([(paused_at, paused)], start=received)
    )
    assert CAL.working_time_between(new_start, new_due) == CAL.working_time_between(received, due)
    assert CAL.working_time_between(resumed_at, new_due) == CAL.working_time_between(paused_at, due)
    # Nothing fires at the resume that would not have fired at the pause, and nothing is lost.
    assert ladder(level, new_start, new_due, resumed_at) == ladder(level, received, due, paused_at)
