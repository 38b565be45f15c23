"""Deadlines follow the calendar admins keep in the database, seeded from calendar.yaml."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from app.context import build_context, calendar_mapping
from config.settings import Settings
from core import migrate
from core.db import session_scope
from core.models import CalendarDay
from core.seed import seed_reference

EXTRA_HOLIDAY = date(2026, 12, 2)  # an ordinary Wednesday in calendar.yaml


def test_mapping_rebuilds_the_yaml_shape() -> None:
    hours = {"start": "09:00", "end": "18:00"}
    days = {date(2026, 1, 1): "holiday", date(2026, 12, 30): "shortened"}
    assert calendar_mapping(hours, days) == {
        "work_hours": hours,
        "years": {
            2026: {"holidays": ["2026-01-01"], "working_weekends": [], "shortened": ["2026-12-30"]}
        },
    }


def test_an_admin_holiday_changes_working_days(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cal.db'}")
    before = build_context(settings, require_schema=False)
    assert before.calendar.is_working_day(EXTRA_HOLIDAY)
    migrate.upgrade(before.engine)
    with session_scope(before.engine) as session:
        seed_reference(session, before.config)
        session.add(CalendarDay(day=EXTRA_HOLIDAY, kind="holiday"))
    after = build_context(settings)
    assert not after.calendar.is_working_day(EXTRA_HOLIDAY)
    assert not after.calendar.is_working_day(date(2026, 1, 5))  # seeded New Year holidays kept
    assert after.calendar.is_working_day(date(2026, 12, 3))
    saturday = date(2025, 11, 1)  # a working Saturday that is also shortened
    assert after.calendar.is_working_day(saturday) and after.calendar.is_shortened(saturday)


def test_a_shortened_saturday_from_an_old_seed_is_a_working_day() -> None:
    mapping = calendar_mapping({}, {date(2025, 11, 1): "shortened"})
    assert mapping["years"][2025]["working_weekends"] == ["2025-11-01"]
    assert mapping["years"][2025]["shortened"] == ["2025-11-01"]


@pytest.mark.parametrize(
    ("kind", "entries"),
    [("holiday", 1), ("working_weekend", 1), ("shortened", 1), ("shortened_weekend", 2)],
)
def test_every_kind_maps_to_yaml_keys(kind: str, entries: int) -> None:
    mapping = calendar_mapping({}, {date(2027, 3, 1): kind})
    assert sum(len(v) for v in mapping["years"][2027].values()) == entries
