"""Weeks across the New Year: 2026-W53 (28.12.2026–03.01.2027) and 2027-W01, local time.

Asia/Vladivostok is UTC+10, so local Monday 04.01.2027 00:30 is still 03.01 in UTC: a week
cut in UTC would put it into 2026-W53. The 2027 holidays of config/calendar.yaml (1–8
January) make a first answer on Monday 11.01 at 10:00 one working hour after a Sunday-night
message.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from core.calendar import WorkCalendar
from core.models import Answer, Incident
from rating.scoring import RatingConfig, UnitScore
from rating.service import compute_week, publish_snapshot, trend
from tests.integration.rating.test_rating_service import _reference

VLAD = ZoneInfo("Asia/Vladivostok")
CONFIG = RatingConfig(volume=0.2, speed=0.4, completeness=0.4, min_incidents=2, prior_strength=5)
LATER = datetime(2027, 1, 25, 9, tzinfo=VLAD)


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=VLAD)


def _add(
    session: Session,
    dept: int,
    received: datetime,
    due: datetime,
    *,
    answered: datetime | None = None,
    final: bool = True,
) -> None:
    """An incident with a first-answer deadline; ``answered``: final (resolved) or interim."""
    incident = Incident(
        block_code="housing",
        title="обращение",
        sla_policy="social",
        department_id=dept,
        received_at=received,
        first_answer_due_at=due,
        final_due_at=local(2027, 2, 1, 18),
        first_answered_at=answered,
        final_answered_at=answered if final else None,
        resolved_at=answered if final else None,
        status=("resolved" if final else "answered") if answered else "assigned",
    )
    session.add(incident)
    session.flush()
    if answered is not None:
        kind = "final" if final else "interim"
        session.add(Answer(incident_id=incident.id, kind=kind, text="ответ", created_at=answered))


def _scenario(session: Session) -> dict[str, int]:
    ids = _reference(session)
    gkh, roads = ids["gkh"], ids["roads_transport"]
    # 2026-W53: gkh answers both in time; roads leaves one unanswered past its deadline.
    _add(session, gkh, local(2026, 12, 28, 10), local(2026, 12, 28, 18),
         answered=local(2026, 12, 28, 11))  # fmt: skip
    _add(session, gkh, local(2026, 12, 30, 10), local(2026, 12, 30, 18),
         answered=local(2026, 12, 30, 11))  # fmt: skip
    _add(session, roads, local(2026, 12, 29, 10), local(2026, 12, 29, 18),
         answered=local(2026, 12, 29, 11))  # fmt: skip
    _add(session, roads, local(2026, 12, 31, 15), local(2027, 1, 2, 18))
    # Sunday night of W53; first answer on the first working day after the holidays.
    _add(session, gkh, local(2027, 1, 3, 23, 30), local(2027, 1, 11, 18),
         answered=local(2027, 1, 11, 10), final=False)  # fmt: skip
    # 2027-W01 (local Monday 00:30 = 03.01 14:30 UTC).
    _add(session, roads, local(2027, 1, 4, 0, 30), local(2027, 1, 11, 18),
         answered=local(2027, 1, 4, 9))  # fmt: skip
    _add(session, roads, local(2027, 1, 5, 10), local(2027, 1, 11, 18),
         answered=local(2027, 1, 5, 11))  # fmt: skip
    session.flush()
    return ids


def _unit(units: tuple[UnitScore, ...], key: str) -> UnitScore:
    return next(u for u in units if u.key == key)


def test_weeks_across_the_new_year_follow_local_time(
    rating_db: Session, work_calendar: WorkCalendar
) -> None:
    _scenario(rating_db)
    kwargs: dict[str, Any] = {"calendar": work_calendar, "weights": CONFIG, "now": LATER}
    w53 = compute_week(rating_db, week="2026-W53", **kwargs)
    assert w53.start == local(2026, 12, 28, 0).astimezone(UTC)
    assert w53.end == local(2027, 1, 4, 0).astimezone(UTC)
    gkh, roads = _unit(w53.units, "gkh"), _unit(w53.units, "roads_transport")
    assert (gkh.counts.received, roads.counts.received) == (3, 2)
    assert (gkh.counts.judged, gkh.counts.on_time) == (2, 2)  # the third is judged on 11.01
    assert (roads.counts.judged, roads.counts.on_time, roads.counts.overdue_open) == (2, 1, 1)
    assert (gkh.rank, roads.rank) == (1, 2)
    w01 = compute_week(rating_db, week="2027-W01", **kwargs)
    gkh1, roads1 = _unit(w01.units, "gkh"), _unit(w01.units, "roads_transport")
    assert roads1.counts.received == 2 and gkh1.counts.received == 0
    # Carried over: gkh's Sunday-night message and roads' overdue one.
    assert (gkh1.counts.workload, roads1.counts.workload) == (1, 3)
    # Movers compare with the previous ISO week, which lies in the previous year.
    assert (gkh1.previous_rank, roads1.previous_rank) == (1, 2)
    assert roads1.rank == 1 and roads1.rank_change == 1
    w02 = compute_week(rating_db, week="2027-W02", **kwargs)
    # 03.01 23:30 → 11.01 10:00: 1–10 January are days off, so one working hour.
    assert _unit(w02.units, "gkh").median_hours == pytest.approx(1.0)


def test_trend_and_publication_across_the_new_year(
    rating_db: Session, work_calendar: WorkCalendar
) -> None:
    _scenario(rating_db)
    kwargs: dict[str, Any] = {"calendar": work_calendar, "weights": CONFIG}
    published = publish_snapshot(rating_db, week="2026-W53", now=local(2027, 1, 4, 9), **kwargs)
    series = trend(rating_db, week="2027-W01", now=LATER, weeks=3, **kwargs)
    assert series.weeks == ("2026-W52", "2026-W53", "2027-W01")
    assert series.published == (False, True, False)
    gkh = next(line for line in series.lines if line.code == "gkh")
    assert gkh.index[0] is None  # W52: before the first incident, not scanned, a gap
    assert gkh.index[1] == _unit(published.units, "gkh").index
    assert gkh.index[2] is None  # one incident in work in W01: «недостаточно данных»
    assert gkh.rank == (None, 1, None)
