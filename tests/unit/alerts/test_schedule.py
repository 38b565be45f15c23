"""Backoff and quiet hours (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.schedule import backoff, parse_hhmm, quiet_until

TZ = "Asia/Vladivostok"  # UTC+10


def local(hour: int, minute: int = 0, day: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC) - timedelta(hours=10)


@pytest.mark.parametrize(
    ("attempts", "seconds"), [(1, 20), (2, 40), (5, 320), (9, 3600), (50, 3600)]
)
def test_backoff_doubles_and_caps_at_an_hour(attempts: int, seconds: int) -> None:
    assert backoff(attempts) == timedelta(seconds=seconds)


def test_quiet_hours_across_midnight() -> None:
    night = {"quiet_from": "22:00", "quiet_to": "08:00", "tz": TZ}
    assert quiet_until(local(23), **night) == local(8, day=11)
    assert quiet_until(local(3), **night) == local(8)
    assert quiet_until(local(22), **night) == local(8, day=11)
    assert quiet_until(local(8), **night) is None
    assert quiet_until(local(12), **night) is None


def test_quiet_hours_within_a_day_and_missing() -> None:
    lunch = {"quiet_from": "13:00", "quiet_to": "14:00", "tz": TZ}
    assert quiet_until(local(13, 30), **lunch) == local(14)
    assert quiet_until(local(14), **lunch) is None
    assert quiet_until(local(3), quiet_from=None, quiet_to="08:00", tz=TZ) is None
    assert quiet_until(local(3), quiet_from="08:00", quiet_to="08:00", tz=TZ) is None
    assert parse_hhmm("25:99") is None and parse_hhmm("junk") is None
