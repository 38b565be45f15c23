"""The weekly rating against a real database: tallies, snapshots, movers and the trend.

Week 2026-W47 in Asia/Vladivostok (UTC+10) is 16.11.2026 00:00 – 23.11.2026 00:00 local.
Every expected number below is counted by hand from the rows in ``_scenario``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.calendar import WorkCalendar
from core.errors import ConflictError
from core.models import (
    Answer,
    Block,
    CitizenFeedback,
    Department,
    Incident,
    RatingSnapshot,
    SlaPolicy,
)
from rating.scoring import INSUFFICIENT, RANKED, RatingConfig, UnitScore
from rating.serialize import to_json_dict
from rating.service import compute_week, get_or_compute_snapshot, publish_snapshot, trend

VLAD = ZoneInfo("Asia/Vladivostok")
CONFIG = RatingConfig(volume=0.2, speed=0.4, completeness=0.4, min_incidents=2, prior_strength=5)
AFTER_W47 = datetime(2026, 11, 23, 9, 0, tzinfo=VLAD)  # the Monday job


def L(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A local Vladivostok instant in 2026."""
    return datetime(2026, month, day, hour, minute, tzinfo=VLAD)


def _reference(session: Session) -> dict[str, int]:
    for code in ("housing", "waste", "roads", "other"):
        session.add(Block(code=code, name=f"Блок {code}"))
    session.add(SlaPolicy(code="social", name="Соцсети"))
    departments = {
        "gkh": "Отдел ЖКХ",
        "roads_transport": "Отдел дорог",
        "education": "Отдел образования",
    }
    rows = {code: Department(code=code, name=name) for code, name in departments.items()}
    session.add_all(rows.values())
    session.flush()
    return {code: row.id for code, row in rows.items()}


def _incident(session: Session, **fields: Any) -> Incident:
    fields.setdefault("block_code", "housing")
    fields.setdefault("title", "обращение")
    fields.setdefault("sla_policy", "social")
    incident = Incident(**fields)
    session.add(incident)
    session.flush()
    return incident


def _answer(
    session: Session,
    incident: Incident,
    at: datetime,
    *,
    kind: str = "interim",
    formal: bool = False,
) -> None:
    session.add(
        Answer(incident_id=incident.id, kind=kind, text="ответ", formal_reply=formal, created_at=at)
    )


def _scenario(session: Session) -> dict[str, int]:
    """Department gkh with ten incidents, roads_transport with one, education with none."""
    ids = _reference(session)
    gkh, roads = ids["gkh"], ids["roads_transport"]
    add = _incident
    i1 = add(session, department_id=gkh, received_at=L(16, 10), message_count=3,
             first_answer_due_at=L(17, 10), final_due_at=L(25, 18), first_answered_at=L(16, 12),
             final_answered_at=L(19, 15), resolved_at=L(19, 15), status="resolved")  # fmt: skip
    _answer(session, i1, L(16, 12))
    _answer(session, i1, L(19, 15), kind="final")
    session.add(CitizenFeedback(incident_id=i1.id, verdict="yes", created_at=L(20, 10)))
    i2 = add(session, department_id=gkh, received_at=L(17, 9), first_answer_due_at=L(17, 18),
             final_due_at=L(27, 18), first_answered_at=L(17, 10), status="answered")  # fmt: skip
    _answer(session, i2, L(17, 10), formal=True)
    _answer(session, i2, L(18, 10))
    add(session, department_id=gkh, received_at=L(18, 11), first_answer_due_at=L(19, 11),
        final_due_at=L(30, 18), status="assigned")  # fmt: skip
    i4 = add(session, department_id=gkh, received_at=L(12, 10), first_answer_due_at=L(12, 18),
             final_due_at=L(20, 18), first_answered_at=L(12, 12), status="answered")  # fmt: skip
    _answer(session, i4, L(12, 12))
    i5 = add(session, department_id=gkh, received_at=L(9, 10), first_answer_due_at=L(9, 18),
             final_due_at=L(17, 18), first_answered_at=L(13, 10), final_answered_at=L(13, 10),
             status="resolved")  # fmt: skip
    _answer(session, i5, L(13, 10), kind="final")
    i6 = add(session, department_id=gkh, received_at=L(19, 10), first_answer_due_at=L(20, 10),
             final_due_at=L(26, 18), first_answered_at=L(19, 12), final_answered_at=L(19, 12),
             closed_at=L(19, 12), status="rejected")  # fmt: skip
    _answer(session, i6, L(19, 12), kind="final")
    session.add(CitizenFeedback(incident_id=i6.id, verdict="no", created_at=L(20, 11)))
    i7 = add(session, department_id=gkh, received_at=L(16, 15), first_answer_due_at=L(17, 15),
             final_due_at=L(25, 18), first_answered_at=L(17, 11), final_answered_at=L(17, 11),
             reopen_count=1, status="reopened")  # fmt: skip
    _answer(session, i7, L(17, 11), kind="final")
    i9 = add(session, department_id=gkh, received_at=L(16, 9), final_due_at=L(20, 18),
             first_answered_at=L(17, 9, 30), final_answered_at=L(18, 16),
             resolved_at=L(18, 16), status="resolved")  # fmt: skip
    _answer(session, i9, L(17, 9, 30))
    _answer(session, i9, L(18, 16), kind="final")
    i10 = add(session, department_id=gkh, block_code="waste", received_at=L(17, 9),
              final_due_at=L(19, 18), first_answered_at=L(18, 10), final_answered_at=L(18, 10),
              status="answered")  # fmt: skip
    _answer(session, i10, L(18, 10), kind="final", formal=True)
    i11 = add(session, department_id=gkh, received_at=L(9, 10), first_answer_due_at=L(9, 18),
              final_due_at=L(13, 18), first_answered_at=L(9, 12), final_answered_at=L(17, 10),
              status="resolved")  # fmt: skip
    _answer(session, i11, L(9, 12))
    _answer(session, i11, L(17, 10), kind="final")
    i8 = add(session, department_id=roads, block_code="roads", received_at=L(18, 10),
             first_answer_due_at=L(18, 18), final_due_at=L(27, 18), first_answered_at=L(18, 10, 4),
             status="answered")  # fmt: skip
    _answer(session, i8, L(18, 10, 4))
    add(session, block_code="other", received_at=L(17, 12), status="new")
    add(session, department_id=roads, block_code="roads", received_at=L(23, 0), status="new")
    session.flush()
    return ids


def _unit(units: tuple[UnitScore, ...], key: str) -> UnitScore:
    return next(u for u in units if u.key == key)


def test_week_tallies_are_counted_as_by_hand(
    rating_db: Session, work_calendar: WorkCalendar
) -> None:
    _scenario(rating_db)
    result = compute_week(
        rating_db, week="2026-W47", calendar=work_calendar, weights=CONFIG, now=AFTER_W47
    )
    gkh = _unit(result.units, "gkh")
    c = gkh.counts
    assert (c.received, c.messages, c.workload) == (7, 9, 9)
    assert (c.overdue_open, c.late_decided, c.handled) == (2, 1, 6)
    assert (c.judged, c.on_time) == (7, 4)
    assert (c.decided, c.merits, c.reopened, c.rejected) == (6, 3, 1, 1)
    assert (c.answers, c.formal_answers) == (10, 2)
    assert (c.verdict_yes, c.verdict_partial, c.verdict_no) == (1, 0, 1)
    # Working hours to the first genuine answer: 2, 9, 22 (none yet), 2, 5, 8.5, 32 (none yet).
    assert gkh.median_hours == pytest.approx(8.5, abs=1e-9)
    assert gkh.p90_hours == pytest.approx(26.0, abs=1e-9)
    assert gkh.status == RANKED and gkh.rank == 1
    assert gkh.formal_share == pytest.approx(0.2)


def test_small_and_empty_departments_get_no_place(
    rating_db: Session, work_calendar: WorkCalendar
) -> None:
    _scenario(rating_db)
    result = compute_week(
        rating_db, week="2026-W47", calendar=work_calendar, weights=CONFIG, now=AFTER_W47
    )
    roads, education = _unit(result.units, "roads_transport"), _unit(result.units, "education")
    assert roads.counts.workload == 1 and roads.counts.on_time == 1  # the 4-minute answer
    assert education.counts.workload == 0
    for unit in (roads, education):
        assert (unit.status, unit.rank, unit.index) == (INSUFFICIENT, None, None)
    codes = [u["code"] for u in to_json_dict(result)["units"]]
    assert codes == ["gkh", "roads_transport", "education"]


def test_blocks_include_unrouted_incidents(rating_db: Session, work_calendar: WorkCalendar) -> None:
    _scenario(rating_db)
    result = compute_week(
        rating_db, week="2026-W47", calendar=work_calendar, weights=CONFIG, now=AFTER_W47
    )
    workload = {u.key: u.counts.workload for u in result.blocks}
    assert workload == {"housing": 8, "waste": 1, "roads": 1, "other": 1}


def test_week_in_progress_counts_only_up_to_now(
    rating_db: Session, work_calendar: WorkCalendar
) -> None:
    _scenario(rating_db)
    result = compute_week(
        rating_db, week="2026-W47", calendar=work_calendar, weights=CONFIG, now=L(17, 9, 30)
    )
    c = _unit(result.units, "gkh").counts
    # By Tuesday 09:30: i1, i7, i9 received Monday and i2, i10 at 09:00 Tuesday.
    assert c.received == 5
    assert c.decided == 0  # i11's final answer came at 10:00
    assert result.as_of == L(17, 9, 30).astimezone(UTC)


def test_future_week_is_refused(rating_db: Session, work_calendar: WorkCalendar) -> None:
    _reference(rating_db)
    with pytest.raises(ConflictError):
        compute_week(
            rating_db, week="2026-W49", calendar=work_calendar, weights=CONFIG, now=AFTER_W47
        )


def test_published_snapshot_is_immutable(rating_db: Session, work_calendar: WorkCalendar) -> None:
    ids = _scenario(rating_db)
    kwargs: dict[str, Any] = {"week": "2026-W47", "calendar": work_calendar, "weights": CONFIG}
    published = publish_snapshot(rating_db, now=AFTER_W47, **kwargs)
    assert published.published_at == AFTER_W47
    # New late data for the week must not change what was published.
    _incident(rating_db, department_id=ids["gkh"], received_at=L(20, 10), status="new")
    rating_db.flush()
    later = datetime(2026, 11, 30, 9, 0, tzinfo=VLAD)
    again = publish_snapshot(rating_db, now=later, **kwargs)
    stored = get_or_compute_snapshot(rating_db, now=later, **kwargs)
    fresh = compute_week(rating_db, now=later, **kwargs)
    assert again == published and stored == published
    assert _unit(stored.units, "gkh").counts.received == 7
    assert _unit(fresh.units, "gkh").counts.received == 8
    rows = rating_db.scalars(select(RatingSnapshot)).all()
    assert len(rows) == 1 and rows[0].published_at == AFTER_W47


def test_draft_is_stored_and_refreshed(rating_db: Session, work_calendar: WorkCalendar) -> None:
    ids = _scenario(rating_db)
    kwargs: dict[str, Any] = {"week": "2026-W47", "calendar": work_calendar, "weights": CONFIG}
    first = get_or_compute_snapshot(rating_db, now=AFTER_W47, **kwargs)
    assert first.published_at is None
    _incident(rating_db, department_id=ids["gkh"], received_at=L(20, 10), status="new")
    rating_db.flush()
    second = get_or_compute_snapshot(rating_db, now=AFTER_W47, **kwargs)
    assert _unit(second.units, "gkh").counts.received == 8
    row = rating_db.scalars(select(RatingSnapshot)).one()
    assert row.published_at is None
    assert row.payload["units"][0]["counts"]["received"] == 8


def test_unfinished_week_cannot_be_published(
    rating_db: Session, work_calendar: WorkCalendar
) -> None:
    _scenario(rating_db)
    with pytest.raises(ConflictError):
        publish_snapshot(
            rating_db, week="2026-W47", calendar=work_calendar, weights=CONFIG, now=L(22, 23)
        )
    assert rating_db.scalars(select(RatingSnapshot)).all() == []


def _good_week(session: Session, dept: int, monday: int, *, good: bool) -> None:
    """Four incidents received on ``monday``+i; answered in an hour when ``good``."""
    for offset in range(4):
        day = monday + offset
        answered = L(day, 11) if good else None
        incident = _incident(
            session,
            department_id=dept,
            received_at=L(day, 10),
            first_answer_due_at=L(day, 14),
            final_due_at=L(day, 17),
            first_answered_at=answered,
            final_answered_at=answered,
            resolved_at=answered,
            status="resolved" if good else "assigned",
        )
        if answered is not None:
            _answer(session, incident, answered, kind="final")


def test_movers_and_trend(rating_db: Session, work_calendar: WorkCalendar) -> None:
    ids = _reference(rating_db)
    gkh, roads = ids["gkh"], ids["roads_transport"]
    _good_week(rating_db, gkh, 9, good=True)  # W46: gkh good, roads bad
    _good_week(rating_db, roads, 9, good=False)
    _good_week(rating_db, gkh, 16, good=False)  # W47: the other way round
    _good_week(rating_db, roads, 16, good=True)
    rating_db.flush()
    kwargs: dict[str, Any] = {"calendar": work_calendar, "weights": CONFIG}
    w46 = publish_snapshot(rating_db, week="2026-W46", now=AFTER_W47, **kwargs)
    assert [_unit(w46.units, k).rank for k in ("gkh", "roads_transport")] == [1, 2]
    w47 = compute_week(rating_db, week="2026-W47", now=AFTER_W47, **kwargs)
    roads_unit, gkh_unit = _unit(w47.units, "roads_transport"), _unit(w47.units, "gkh")
    assert (roads_unit.rank, roads_unit.previous_rank, roads_unit.rank_change) == (1, 2, 1)
    assert (gkh_unit.rank, gkh_unit.previous_rank, gkh_unit.rank_change) == (2, 1, -1)
    series = trend(rating_db, week="2026-W47", now=AFTER_W47, weeks=3, **kwargs)
    assert series.weeks == ("2026-W45", "2026-W46", "2026-W47")
    assert series.published == (False, True, False)
    line = next(x for x in series.lines if x.code == "gkh")
    assert line.index[0] is None and line.index[1] == _unit(w46.units, "gkh").index
    assert line.index[2] == gkh_unit.index and line.rank == (None, 1, 2)
    plain = series.to_dict()
    assert plain["weeks"] == list(series.weeks)
    assert [d["code"] for d in plain["departments"]] == ["gkh", "roads_transport", "education"]
    # Nothing but the published week is stored by the trend.
    assert [s.week for s in rating_db.scalars(select(RatingSnapshot))] == ["2026-W46"]


def test_week_edges_are_half_open(rating_db: Session, work_calendar: WorkCalendar) -> None:
    ids = _reference(rating_db)
    gkh = ids["gkh"]
    at_start = _incident(rating_db, department_id=gkh, received_at=L(16, 0),
                         first_answer_due_at=L(16, 17), first_answered_at=L(16, 17),
                         status="answered")  # fmt: skip
    _answer(rating_db, at_start, L(16, 17))  # exactly at the deadline: still on time
    on_due = _incident(rating_db, department_id=gkh, received_at=L(17, 10),
                       final_due_at=L(18, 18), final_answered_at=L(18, 18),
                       status="resolved")  # fmt: skip
    _answer(rating_db, on_due, L(18, 18), kind="final")  # final exactly at its deadline
    _incident(rating_db, department_id=gkh, received_at=L(15, 23, 59), status="new")
    _incident(rating_db, department_id=gkh, received_at=L(23, 0), status="new")
    rating_db.flush()
    result = compute_week(
        rating_db, week="2026-W47", calendar=work_calendar, weights=CONFIG, now=AFTER_W47
    )
    c = _unit(result.units, "gkh").counts
    assert (c.received, c.workload, c.judged, c.on_time) == (2, 3, 2, 2)
    assert (c.decided, c.late_decided, c.merits) == (1, 0, 1)
    # 7 h (Mon 09–13, 14–17) and 15 h (Tue 10–13, 14–18, Wed 09–13, 14–18).
    assert _unit(result.units, "gkh").median_hours == pytest.approx(11.0)
