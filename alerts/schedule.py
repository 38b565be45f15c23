"""Pure timing rules of delivery: retry backoff and the end of a user's quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

BACKOFF_BASE_SECONDS = 10.0
BACKOFF_CAP_SECONDS = 3600.0


def backoff(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failed try: 2^attempts · 10 s, at most one hour."""
    seconds = BACKOFF_BASE_SECONDS * 2 ** min(max(attempts, 0), 20)
    return timedelta(seconds=min(seconds, BACKOFF_CAP_SECONDS))


def parse_hhmm(value: str | None) -> time | None:
    """ "22:30" → time(22, 30); None or malformed → None (no quiet hours)."""
    if not value:
        return None
    try:
        hours, minutes = (int(part) for part in value.strip().split(":"))
        return time(hours, minutes)
    except ValueError:
        return None


def quiet_until(
    now: datetime, *, quiet_from: str | None, quiet_to: str | None, tz: str
) -> datetime | None:
    """The UTC end of the quiet period `now` falls in, or None when the user may be woken.

    The period is local wall time [from, to) and may cross midnight ("22:00"–"08:00").
    Equal or missing bounds mean no quiet hours.
    """
    start, end = parse_hhmm(quiet_from), parse_hhmm(quiet_to)
    if start is None or end is None or start == end:
        return None
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= clock < end
        end_day = local.date()
    else:
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)
