"""A batch reads the duplicate candidates of all its blocks in one query: for each block the
rows the single-block query gives, through the same index, and no query when a message of
those blocks is then compared."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert, text
from sqlalchemy.orm import Session

from config.reference import ReferenceConfig
from core.models import OPEN_STATUSES, Incident
from core.seed import seed_reference
from incidents import repository
from incidents.batch import IntakeBatch
from incidents.dedupe import DupKey, Place

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
BLOCKS = ("housing", "roads", "transport", "waste", "energy")
STATUSES = (*OPEN_STATUSES, "resolved", "closed", "rejected")


def _rows(count: int) -> Iterator[dict[str, Any]]:
    """Incidents of five blocks over five days, open and closed, a few sharing a receipt."""
    rng = random.Random(11)
    for i in range(count):
        at = NOW - timedelta(seconds=rng.choice((0, 60, rng.randint(60, 5 * 86400))))
        yield {
            "id": i + 1,
            "block_code": BLOCKS[i % len(BLOCKS)],
            "title": f"Обращение {i}",
            "status": rng.choice(STATUSES),
            "sla_policy": "portal",
            "received_at": at,
            "text_fingerprint": f"слово{i % 31} яма",
            "settlement": rng.choice((None, "Амурзет", "Пузино")),
        }


@pytest.fixture
def incidents(db_session: Session, reference_config: ReferenceConfig) -> Session:
    seed_reference(db_session, reference_config)
    db_session.execute(insert(Incident), list(_rows(3000)))
    db_session.commit()
    return db_session


def _selects(session: Session) -> tuple[list[str], Any]:
    seen: list[str] = []

    def keep(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "incidents" in statement:
            seen.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", keep)
    return seen, lambda: event.remove(engine, "before_cursor_execute", keep)


def test_one_query_gives_each_block_the_rows_of_its_own_query(incidents: Session) -> None:
    session = incidents
    # A different window start per block; "energy" with a limit that cuts its rows.
    since = {
        "housing": NOW - timedelta(hours=72),
        "roads": NOW - timedelta(hours=24),
        "transport": NOW - timedelta(days=5),
        "energy": NOW - timedelta(days=5),
        "waste": NOW + timedelta(hours=1),  # nothing received since: an empty pool
    }
    seen, stop = _selects(session)
    try:
        found = repository.duplicate_candidates_by_block(
            session, since=since, statuses=OPEN_STATUSES, limit=40
        )
    finally:
        stop()
    if session.get_bind().dialect.name == "postgresql":
        assert len(seen) == 1
    assert set(found) == set(since)
    assert found["waste"] == []
    for block, start in since.items():
        alone = repository.duplicate_candidate_rows(
            session, block=block, statuses=OPEN_STATUSES, since=start, limit=40
        )
        order = sorted(found[block], key=lambda r: (r[1], r[0]), reverse=True)
        assert [tuple(r) for r in order] == [tuple(r) for r in alone]
        assert len(alone) == (40 if block in ("housing", "transport", "energy") else len(alone))
    assert all(r[1].tzinfo is not None for rows in found.values() for r in rows)


def test_the_preloaded_pools_answer_without_another_query(incidents: Session) -> None:
    session = incidents
    window = timedelta(hours=72)
    keys = [
        DupKey("roads", Place("Амурзет", None, None), ("слово3", "яма"), NOW),
        DupKey("housing", Place(None, None, None), ("слово4", "яма"), NOW - timedelta(hours=1)),
        DupKey("roads", Place(None, None, None), ("слово5", "яма"), NOW - timedelta(hours=2)),
    ]

    def decide(preload: bool) -> list[Any]:
        with session.begin_nested() as savepoint:
            batch = IntakeBatch(session)
            if preload:
                since: dict[str, datetime] = {}
                for key in keys:
                    start = key.received_at - window
                    since[key.block] = min(since.get(key.block, start), start)
                batch.preload(since, statuses=OPEN_STATUSES, limit=200)
            seen, stop = _selects(session)
            try:
                found = [
                    batch.find_duplicate(
                        key, statuses=OPEN_STATUSES, threshold=0.5, window=window, limit=200
                    )
                    for key in keys
                ]
            finally:
                stop()
            savepoint.rollback()
        assert (seen == []) == preload  # preloaded: compared without a query
        return [None if f is None else (f[0], f[1].order) for f in found]

    assert decide(preload=True) == decide(preload=False)
    assert any(found is not None for found in decide(preload=True))


def test_the_one_query_reads_each_block_through_the_open_incidents_index(
    incidents: Session,
) -> None:
    session = incidents
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the plan is PostgreSQL's")
    session.execute(text("ANALYZE incidents"))
    seen: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        seen.append((statement, params))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", keep)
    try:
        repository.plan_candidates_by_block(session)
        repository.duplicate_candidates_by_block(
            session,
            since={b: NOW - timedelta(hours=72) for b in BLOCKS},
            statuses=OPEN_STATUSES,
            limit=200,
        )
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    statement, params = seen[-1]
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute("EXPLAIN " + statement, params)
    plan = "\n".join(line for (line,) in cursor.fetchall())
    # The partial index serves every block (the statuses are in the SQL text); whether the
    # planner then sorts a block's few rows or walks the index in order is its choice by size.
    assert "ix_incidents_open_block_received" in plan, plan
    assert "Seq Scan on incidents" not in plan, plan
