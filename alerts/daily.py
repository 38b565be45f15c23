"""The daily reports at 09:00: the coordinator's digest and the head's summary.

The job takes the figures now and queues one outbox row per recipient, keyed by the local
date, so a second run of the same day adds nothing. Delivery (quiet hours, retries) is the
outbox's; the text is alerts.format_daily's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from alerts import repository as repo
from alerts.format_daily import COORDINATOR_DIGEST, HEAD_SUMMARY
from core.models import AlertOutbox

TOP_OVERDUE = 5
TOP_PLACES = 3


def local_day(now: datetime, tz: str) -> date:
    """The municipality's calendar date at `now` (the once-a-day occurrence key)."""
    return now.astimezone(ZoneInfo(tz)).date()


def day_bounds(day: date, tz: str) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day, in UTC."""
    start = datetime.combine(day, time(0), tzinfo=ZoneInfo(tz))
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(tz))
    return start.astimezone(UTC), end.astimezone(UTC)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def coordinator_payload(session: Session, *, now: datetime) -> dict[str, Any]:
    """Open incidents by status, new in the last 24 h by block, overdue now and the worst."""
    worst = repo.most_overdue(session, now=now, limit=TOP_OVERDUE)
    return {
        "at": now.astimezone(UTC).isoformat(),
        "by_status": repo.open_by_status(session),
        "new_by_block": [
            [block, n]
            for block, n in repo.received_by_block(
                session, since=now - timedelta(days=1), until=now
            )
        ],
        "overdue": repo.overdue_count(session, now=now),
        "top_overdue": [
            {
                "incident_id": i.id,
                "number": i.number,
                "block": i.block_code,
                "title": i.title,
                "settlement": i.settlement,
                "due_at": _iso(i.due_at),
            }
            for i in worst
        ],
    }


def head_payload(session: Session, *, now: datetime, tz: str) -> dict[str, Any]:
    """Yesterday's received and resolved, overdue now, the three most troubled places."""
    yesterday = local_day(now, tz) - timedelta(days=1)
    start, end = day_bounds(yesterday, tz)
    received = repo.received_by_block(session, since=start, until=end)
    return {
        "day": yesterday.isoformat(),
        "received": sum(n for _, n in received),
        "resolved": repo.resolved_between(session, since=start, until=end),
        "overdue": repo.overdue_count(session, now=now),
        "places": [
            list(place) for place in repo.problem_places(session, now=now, limit=TOP_PLACES)
        ],
    }


def queue_report(
    session: Session, *, kind: str, role: str, payload: dict[str, Any], day: date, now: datetime
) -> int:
    """One outbox row per active user of the role, keyed `{kind}:{day}:{user}`."""
    rows = [
        AlertOutbox(
            kind=kind,
            dedupe_key=f"{kind}:{day.isoformat()}:{user_id}",
            user_id=user_id,
            payload=dict(payload),
            status=repo.PENDING,
            next_attempt_at=now,
            created_at=now,
        )
        for user_id in repo.active_users_with_role(session, role=role)
    ]
    return repo.add_alerts(session, rows=rows)


def queue_coordinator_digest(session: Session, *, now: datetime, tz: str) -> dict[str, Any]:
    """The coordinators' daily digest (job body)."""
    payload = coordinator_payload(session, now=now)
    day = local_day(now, tz)
    queued = queue_report(
        session, kind=COORDINATOR_DIGEST, role="coordinator", payload=payload, day=day, now=now
    )
    return {"day": day.isoformat(), "queued": queued, "overdue": payload["overdue"]}


def queue_head_summary(session: Session, *, now: datetime, tz: str) -> dict[str, Any]:
    """The head's daily summary (job body)."""
    payload = head_payload(session, now=now, tz=tz)
    day = local_day(now, tz)
    queued = queue_report(
        session, kind=HEAD_SUMMARY, role="head", payload=payload, day=day, now=now
    )
    return {"day": day.isoformat(), "queued": queued, "received": payload["received"]}
