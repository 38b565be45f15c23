"""Answer time in working hours with the pauses (waiting for the citizen) left out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from core.calendar import WorkCalendar
from rating.speed import answer_time, pauses_of

TZ = "Asia/Vladivostok"
VL = ZoneInfo(TZ)
# Mon–Fri 09:00–18:00 with lunch 13:00–14:00; Monday 9 March 2026 is a holiday.
CAL = WorkCalendar.from_mapping(
    {
        "work_hours": {
            "start": "09:00",
            "end": "18:00",
            "lunch_start": "13:00",
            "lunch_end": "14:00",
            "shortened_by_minutes": 60,
        },
        "years": {2026: {"holidays": [date(2026, 3, 9)], "working_weekends": [], "shortened": []}},
    },
    tz=TZ,
)
H = timedelta(hours=1)


def vl(day: int, hour: int, minute: int = 0) -> datetime:
    """A local instant in March 2026."""
    return datetime(2026, 3, day, hour, minute, tzinfo=VL)


def test_no_pause_leaves_the_working_time_unchanged() -> None:
    received, answered = vl(2, 10), vl(3, 10)
    plain = CAL.working_time_between(received, answered)
    assert plain == 8 * H
    assert pauses_of([]) == []
    assert answer_time(received=received, answered=answered, calendar=CAL) == plain
    assert answer_time(received=received, answered=answered, pauses=[], calendar=CAL) == plain


def test_a_pause_within_working_hours_is_left_out() -> None:
    # Monday 10:00 → 16:00 is 5 working hours (lunch aside); paused 11:00–12:30.
    pauses = pauses_of([(vl(2, 11), "assigned", "paused"), (vl(2, 12, 30), "paused", "assigned")])
    assert pauses == [(vl(2, 11), vl(2, 12, 30))]
    spent = answer_time(received=vl(2, 10), answered=vl(2, 16), pauses=pauses, calendar=CAL)
    assert spent == 3.5 * H


def test_a_pause_across_the_night_and_weekend_takes_only_its_working_time() -> None:
    # Friday 16:00 → Tuesday 12:00 is 2 h on Friday + 3 h on Tuesday (Sat, Sun, holiday Mon).
    # Paused Friday 17:00, resumed Tuesday 10:00: 1 h + 1 h of working time, not 89 h.
    pauses = [(vl(6, 17), vl(10, 10))]
    spent = answer_time(received=vl(6, 16), answered=vl(10, 12), pauses=pauses, calendar=CAL)
    assert spent == 3 * H


def test_a_pause_still_open_counts_up_to_the_answer() -> None:
    pauses = pauses_of([(vl(2, 12), "in_progress", "paused")])
    assert pauses == [(vl(2, 12), None)]
    # Not answered: the time up to as_of (Monday 17:00) is 6 h, of which 4 h paused.
    spent = answer_time(received=vl(2, 10), answered=vl(2, 17), pauses=pauses, calendar=CAL)
    assert spent == 2 * H


def test_only_the_part_of_a_pause_inside_receipt_to_answer_counts() -> None:
    received, answered = vl(2, 10), vl(2, 12)
    assert (
        answer_time(
            received=received, answered=answered, pauses=[(vl(2, 11), vl(2, 15))], calendar=CAL
        )
        == 1 * H
    )
    later = [(vl(3, 9), vl(3, 11)), (vl(3, 12), None)]
    assert answer_time(received=received, answered=answered, pauses=later, calendar=CAL) == 2 * H


def test_pauses_from_a_history_in_any_order() -> None:
    changes = [
        (vl(4, 9), "paused", "in_progress"),  # resumed
        (vl(2, 11), "assigned", "paused"),
        (vl(3, 10), "paused", "paused"),  # reassigned while paused: still paused
        (vl(5, 10), "in_progress", "paused"),
        (vl(5, 15), "paused", "closed"),  # merged into another incident: the pause ends
        (vl(6, 9), "new", "assigned"),
    ]
    assert pauses_of(changes) == [(vl(2, 11), vl(4, 9)), (vl(5, 10), vl(5, 15))]


moments = st.datetimes(
    min_value=datetime(2026, 3, 1), max_value=datetime(2026, 3, 31), timezones=st.just(UTC)
).map(lambda d: d.replace(second=0, microsecond=0))


@settings(deadline=None, max_examples=150)
@given(received=moments, answered=moments, marks=st.lists(moments, max_size=6))
def test_pauses_never_add_time_nor_make_it_negative(
    received: datetime, answered: datetime, marks: list[datetime]
) -> None:
    marks.sort()
    changes = [
        (at, "in_progress", "paused") if i % 2 == 0 else (at, "paused", "in_progress")
        for i, at in enumerate(marks)
    ]
    plain = answer_time(received=received, answered=answered, calendar=CAL)
    paused = answer_time(
        received=received, answered=answered, pauses=pauses_of(changes), calendar=CAL
    )
    assert timedelta(0) <= paused <= plain
