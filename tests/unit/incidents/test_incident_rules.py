"""Routing, SLA policy choice, pending deadline, clocks, escalation ladder, places and titles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from core.calendar import WorkCalendar
from incidents.intake import format_number
from incidents.rules import (
    Policy,
    RouteRule,
    choose_policy_code,
    choose_route,
    clocks,
    compute_due,
    escalation_steps,
    parse_place,
    pending_due,
)
from incidents.text import fingerprint, make_title, merge_fingerprints

VL = ZoneInfo("Asia/Vladivostok")
SOCIAL_NORMAL = Policy("social_normal", first_answer_working_hours=8, final_answer_working_days=7)
PORTAL = Policy("portal", final_answer_working_days=10)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=VL)  # type: ignore[misc]


RULES = [
    RouteRule(id=1, block="housing", department_id=10),
    RouteRule(id=2, block="housing", department_id=20, settlement="с. Амурзет"),
    RouteRule(
        id=3,
        block="housing",
        department_id=30,
        settlement="Амурзет",
        street="ул. Ленина",
        executor_id=99,
    ),
    RouteRule(id=4, block="roads", department_id=40),
    RouteRule(id=5, block="housing", department_id=50, settlement="Пузино"),
]


@pytest.mark.parametrize(
    ("block", "settlement", "street", "expected"),
    [
        ("housing", "Амурзет", "Ленина", 3),
        ("housing", "амурзет", "улица Ленина", 3),
        ("housing", "Амурзет", "Советская", 2),
        ("housing", "Амурзет", None, 2),
        ("housing", "Пузино", "Ленина", 5),
        ("housing", "Ленинское", "Ленина", 1),
        ("housing", None, None, 1),
        ("roads", "Амурзет", "Ленина", 4),
    ],
)
def test_the_most_specific_route_wins(
    block: str, settlement: str | None, street: str | None, expected: int
) -> None:
    route = choose_route(RULES, block=block, settlement=settlement, street=street)
    assert route is not None and route.id == expected


def test_an_unrouted_block_has_no_route() -> None:
    assert choose_route(RULES, block="other", settlement="Амурзет", street="Ленина") is None


def test_ties_go_to_the_oldest_rule() -> None:
    twins = [
        RouteRule(id=8, block="waste", department_id=2),
        RouteRule(id=7, block="waste", department_id=1),
    ]
    route = choose_route(twins, block="waste", settlement=None, street=None)
    assert route is not None and route.department_id == 1


ASSIGNMENT = {
    "vk": {"normal": "social_normal", "urgent": "social_high"},
    "email": {"normal": "fz59", "urgent": "social_high"},
    "pos": {"normal": "portal", "urgent": "social_high"},
}


@pytest.mark.parametrize(
    ("kind", "urgent", "expected"),
    [
        ("vk", False, "social_normal"),
        ("vk", True, "social_high"),
        ("email", False, "fz59"),
        ("pos", False, "portal"),
        ("pos", True, "social_high"),
        ("fax", False, "portal"),
    ],
)
def test_policy_follows_the_source_kind_and_urgency(kind: str, urgent: bool, expected: str) -> None:
    assert (
        choose_policy_code(ASSIGNMENT, source_kind=kind, urgent=urgent, default="portal")
        == expected
    )


def test_pending_deadline_is_the_first_answer_until_given_then_the_final() -> None:
    first, final, answered = local(2026, 3, 2, 17), local(2026, 3, 11, 18), local(2026, 3, 2, 12)
    assert pending_due(
        first_answer_due=first, final_due=None, first_answered=None, final_answered=None
    ) == ("first_answer", first)
    assert pending_due(
        first_answer_due=first, final_due=final, first_answered=answered, final_answered=None
    ) == ("final", final)
    assert (
        pending_due(
            first_answer_due=first,
            final_due=final,
            first_answered=answered,
            final_answered=answered,
        )
        is None
    )
    assert pending_due(
        first_answer_due=None, final_due=final, first_answered=answered, final_answered=None
    ) == ("final", final)


def test_clocks_show_working_time_left_and_overdue(calendar: WorkCalendar) -> None:
    received = local(2026, 3, 2, 9)  # Monday
    due = compute_due(SOCIAL_NORMAL, received=received, calendar=calendar)
    incident = SimpleNamespace(
        first_answer_due_at=due.first_answer_due,
        final_due_at=None,
        first_answered_at=None,
        final_answered_at=None,
    )
    [clock] = clocks(incident, now=local(2026, 3, 2, 11), calendar=calendar)
    assert clock.kind == "first_answer" and clock.label == "Первичный ответ"
    assert clock.left == timedelta(hours=6) and not clock.overdue
    [late] = clocks(incident, now=local(2026, 3, 3, 10), calendar=calendar)
    assert late.left == timedelta(hours=-1) and late.overdue


def test_an_answered_clock_stops_at_the_answer(calendar: WorkCalendar) -> None:
    incident = SimpleNamespace(
        first_answer_due_at=local(2026, 3, 2, 18),
        final_due_at=local(2026, 3, 11, 18),
        first_answered_at=local(2026, 3, 2, 15),
        final_answered_at=None,
    )
    first, final = clocks(incident, now=local(2026, 3, 20, 12), calendar=calendar)
    assert first.left == timedelta(hours=3) and not first.overdue
    assert final.overdue and final.done_at is None


# Monday 09:00 → due Monday 18:00 (8 working hours): 50% at 13:00, 80% at 16:24.
START, DUE = local(2026, 3, 2, 9), local(2026, 3, 2, 18)


@pytest.mark.parametrize(
    ("now", "level", "expected"),
    [
        (local(2026, 3, 2, 11), 0, []),
        (local(2026, 3, 2, 13), 0, [1]),
        (local(2026, 3, 2, 14, 30), 1, []),
        (local(2026, 3, 2, 16, 20), 0, [1]),
        (local(2026, 3, 2, 16, 30), 0, [2]),
        (local(2026, 3, 2, 16, 30), 1, [2]),
        (local(2026, 3, 2, 16, 30), 2, []),
        (local(2026, 3, 2, 18), 2, [3]),
        (local(2026, 3, 3, 12, 59), 0, [3]),
        (local(2026, 3, 3, 13), 0, [3, 4]),
        (local(2026, 3, 3, 14), 3, [4]),
        (local(2026, 3, 5, 9), 4, []),
    ],
)
def test_escalation_ladder(
    now: datetime, level: int, expected: list[int], calendar: WorkCalendar
) -> None:
    steps = escalation_steps(
        level=level,
        start=START,
        due=DUE,
        now=now,
        calendar=calendar,
        remind_at=(0.5, 0.8),
        coordinator_after_hours=4,
    )
    assert steps == expected


def test_the_ladder_counts_working_time_not_the_weekend(calendar: WorkCalendar) -> None:
    # Fri 17:00 → Wed 11:00 with Mon 9 March off: 1 + 8 + 2 = 11 working hours.
    start, due = local(2026, 3, 6, 17), local(2026, 3, 11, 11)

    def at(now: datetime) -> list[int]:
        return escalation_steps(
            level=0,
            start=start,
            due=due,
            now=now,
            calendar=calendar,
            remind_at=(0.5, 0.8),
            coordinator_after_hours=4,
        )

    assert at(local(2026, 3, 9, 20)) == []  # 66% of the calendar time, 1 working hour of 11
    assert at(local(2026, 3, 10, 14, 29)) == []
    assert at(local(2026, 3, 10, 14, 30)) == [1]


def test_place_accepts_spans_and_plain_strings() -> None:
    raw = {
        "settlement": {"value": "Амурзет", "start": 0, "end": 7},
        "street": "ул. Ленина",
        "house": {"value": "12а", "start": 20, "end": 23},
    }
    place = parse_place(raw)
    assert (place.settlement, place.street, place.house) == ("Амурзет", "ул. Ленина", "12а")
    empty = parse_place({"settlement": None, "street": {"value": " "}})
    assert (empty.settlement, empty.street, empty.house) == (None, None, None)
    assert parse_place(None).settlement is None


def test_title_cuts_on_a_whole_word() -> None:
    text = "Прорвало трубу на улице Ленина " + "вода хлещет во двор и заливает подвалы домов " * 5
    title = make_title(text)
    assert len(title) <= 121 and title.endswith("…")
    assert text.startswith(title[:-1].rstrip())
    assert title[:-1].split()[-1] in text.split()
    assert make_title("  Нет   света https://vk.com/wall-1_2 ") == "Нет света"


def test_fingerprint_is_compact_and_merges_without_repeats() -> None:
    one = fingerprint("Здравствуйте! Прорвало трубу на Ленина, вода хлещет!!!")
    assert one == "прорвало трубу ленина вода хлещет"
    assert merge_fingerprints([one, "вода затопило подвал"]) == one + " затопило подвал"
    assert len(fingerprint("слово " * 10 + " ".join(f"w{i}" for i in range(500))).split()) == 80


def test_number_uses_the_local_year_of_receipt(calendar: WorkCalendar) -> None:
    new_year_local = datetime(2025, 12, 31, 15, 0, tzinfo=UTC)  # 01:00 on 1 January in UTC+10
    assert (
        format_number(incident_id=123, received=new_year_local, calendar=calendar)
        == "МЦУ-2026-000123"
    )
