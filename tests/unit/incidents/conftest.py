"""A small production calendar for 2026 (Asia/Vladivostok) shared by the pure tests."""

from __future__ import annotations

import pytest

from core.calendar import WorkCalendar

from .calendar_2026 import CALENDAR_2026, TZ


@pytest.fixture(scope="session")
def calendar() -> WorkCalendar:
    """The 2026 calendar of the Октябрьский район (UTC+10)."""
    return WorkCalendar.from_mapping(CALENDAR_2026, tz=TZ)
