"""Duplicate candidates are read by their block's index even when thousands of open
incidents share one time of receipt (a collector's batch, a ПОС import), and the rows are
the newest by (received_at, id) either way."""

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
BLOCKS = (
    "housing",
    "roads",
    "transport",
    "waste",
    "energy",
    "social",
    "consumer",
    "economy",
    "construction",
    "agriculture",
    "property",
    "emergency",
)


def _rows(count: int, *, tied: int) -> Iterator[dict[str, Any]]:
    """`count` open incidents over three days, the last `tied` of them received at NOW."""
    rng = random.Random(5)
    for i in range(count):
        at = NOW if i >= count - tied else NOW - timedelta(seconds=rng.randint(60, 3 * 86400))
        yield {
            "id": i + 1,
            "block_code": BLOCKS[i % len(BLOCKS)],
            "title": f"Обращение {i}",
            "status": rng.choice(OPEN_STATUSES),
            "sla_policy": "portal",
            "received_at": at,
            "text_fingerprint": f"слово{i % 97} яма",
        }


def _captured(session: Session) -> tuple[list[tuple[str, Any]], Any]:
    statements: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "FROM incidents" in statement and "LIMIT" in statement:
            statements.append((statement, params))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", keep)
    return statements, lambda: event.remove(engine, "before_cursor_execute", keep)


def test_candidates_use_the_block_index_with_many_tied_receipts(
    db_session: Session, reference_config: ReferenceConfig
) -> None:
    session = db_session
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the plan is PostgreSQL's")
    seed_reference(session, reference_config)
    rows = list(_rows(100_000, tied=12_000))
    # Statistics taken before the burst of tied receipts arrived, as autovacuum's lag leaves
    # them after an import: PostgreSQL then expects few incidents per time of receipt.
    session.execute(insert(Incident), rows[:-12_000])
    session.execute(text("ANALYZE incidents"))
    session.execute(insert(Incident), rows[-12_000:])
    session.commit()
    since = NOW - timedelta(hours=72)
    statements, stop = _captured(session)
    try:
        repository.plan_candidates_by_block(session)
        found = repository.duplicate_candidate_rows(
            session, block="roads", statuses=OPEN_STATUSES, since=since, limit=200
        )
    finally:
        stop()

    expected = sorted(
        (r for r in rows if r["block_code"] == "roads" and r["received_at"] >= since),
        key=lambda r: (r["received_at"], r["id"]),
        reverse=True,
    )[:200]
    assert [row[0] for row in found] == [r["id"] for r in expected]
    (statement, params), *_ = statements
    plan = "\n".join(
        line for (line,) in session.execute(text("EXPLAIN " + statement % _literal(params)))
    )
    assert "ix_incidents_open_block_received" in plan, plan
    assert "Sort" not in plan, plan  # the index gives the order: nothing is sorted


def _literal(params: Any) -> dict[str, str]:
    """psycopg's %(name)s parameters as SQL literals (test values only: dates, words, ints)."""
    out = {}
    for name, value in params.items():
        if isinstance(value, datetime):
            out[name] = f"'{value.isoformat()}'::timestamptz"
        elif isinstance(value, int):
            out[name] = str(value)
        else:
            out[name] = f"'{value}'"
    return out


def test_a_batch_turns_incremental_sort_off_for_its_own_transaction_only(
    db_session: Session, reference_config: ReferenceConfig
) -> None:
    session = db_session
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("a PostgreSQL planner setting")
    seed_reference(session, reference_config)
    session.commit()

    def setting() -> str:
        return str(session.execute(text("SHOW enable_incremental_sort")).scalar_one())

    assert setting() == "on"
    with session.begin_nested():
        batch = IntakeBatch(session)
        key = DupKey("roads", Place(None, None, None), ("яма",), NOW)
        found = batch.find_duplicate(
            key, statuses=OPEN_STATUSES, threshold=0.5, window=timedelta(hours=72), limit=200
        )
        assert found is None  # no incidents: only the pool's query ran
        assert setting() == "off"
    session.commit()
    assert setting() == "on"  # the next transaction, and anything else, plans as usual
