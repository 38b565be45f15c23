"""When the Monday report is due, so that a worker started late catches up."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.scheduler import weekly_rating_occurrence, weekly_report_due

TZ = "Asia/Vladivostok"  # UTC+10


@pytest.mark.parametrize(
    ("utc", "due", "week"),
    [
        (datetime(2026, 11, 22, 22, 59, tzinfo=UTC), False, "2026-W47"),  # Mon 08:59 local
        (datetime(2026, 11, 22, 23, 0, tzinfo=UTC), True, "2026-W47"),  # Mon 09:00 local
        (datetime(2026, 11, 25, 3, 0, tzinfo=UTC), True, "2026-W47"),  # Wed, worker was down
        (datetime(2026, 11, 29, 13, 59, tzinfo=UTC), True, "2026-W47"),  # Sun 23:59 local
        (datetime(2026, 11, 29, 14, 0, tzinfo=UTC), False, "2026-W48"),  # Mon 00:00 local
    ],
)
def test_the_report_is_due_except_on_monday_before_nine(
    utc: datetime, due: bool, week: str
) -> None:
    assert weekly_report_due(utc, TZ) is due
    assert weekly_rating_occurrence(utc, TZ) == week
