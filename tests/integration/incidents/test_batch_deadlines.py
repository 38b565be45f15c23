"""A batch computes a policy's deadlines once per time of receipt, and each incident still
gets the deadlines of its own policy and its own receipt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.context import load_calendar
from config.reference import ReferenceConfig
from config.settings import CONFIG_DIR
from core.errors import NotFoundError
from incidents import repository
from incidents.batch import IntakeBatch
from incidents.rules import compute_due

FRIDAY_11 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # Friday 11:00 in Амурзет (UTC+10)


def test_deadlines_are_those_of_each_policy_and_receipt(
    seeded_session: Session, reference_config: ReferenceConfig
) -> None:
    tz = reference_config.municipality.municipality.timezone
    calendar = load_calendar(reference_config, tz=tz, config_dir=str(CONFIG_DIR))
    batch = IntakeBatch(seeded_session)
    receipts = [FRIDAY_11, FRIDAY_11 + timedelta(hours=4), FRIDAY_11 - timedelta(days=3)]
    codes = ["social_high", "social_normal", "portal", "fz59"]
    seen = {}
    for code in codes:
        policy = repository.get_policy(seeded_session, code=code)
        for received in receipts:
            got = batch.deadlines(code, received=received, calendar=calendar)
            assert got == compute_due(policy, received=received, calendar=calendar)
            assert batch.deadlines(code, received=received, calendar=calendar) is got  # once
            seen[code, received] = got
    # The cache tells policies and receipts apart: each policy has its own deadline for a
    # receipt, and working hours counted from 11:00 and from 15:00 end at different times.
    for received in receipts:
        assert len({seen[code, received] for code in codes}) == len(codes)
    assert seen["social_high", receipts[0]] != seen["social_high", receipts[1]]


def test_a_batch_reads_every_policy_in_one_query_and_names_an_unknown_one(
    seeded_session: Session,
) -> None:
    batch = IntakeBatch(seeded_session)
    statements: list[str] = []
    engine = seeded_session.get_bind()

    def count(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        statements.append(statement)

    codes = ("social_high", "social_normal", "portal", "fz59")
    event.listen(engine, "before_cursor_execute", count)
    try:
        got = {code: batch.policy(code) for code in codes}
        with pytest.raises(NotFoundError, match="«nope»"):
            batch.policy("nope")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len([s for s in statements if "sla_policies" in s]) == 1  # one query for all
    assert got == {code: repository.get_policy(seeded_session, code=code) for code in codes}
