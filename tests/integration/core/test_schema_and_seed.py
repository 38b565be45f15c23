"""Migrations give the same schema on both backends; seeding is idempotent."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from config.reference import ReferenceConfig
from core import migrate
from core.models import Base, Block, CalendarDay, RoutingRule, Settlement, SlaPolicy
from core.seed import seed_reference


def _schema(session: Session) -> dict[str, set[tuple[str, bool]]]:
    insp = inspect(session.get_bind())
    return {
        name: {(col["name"], bool(col["nullable"])) for col in insp.get_columns(name)}
        for name in insp.get_table_names()
        if name != "alembic_version"
    }


def test_migrations_match_the_models(db_session: Session) -> None:
    schema = _schema(db_session)
    expected = {
        table.name: {(col.name, bool(col.nullable)) for col in table.columns}
        for table in Base.metadata.sorted_tables
    }
    assert schema == expected
    assert migrate.is_current(db_session.get_bind())  # type: ignore[arg-type]


def test_seed_creates_reference_rows_once(
    db_session: Session, reference_config: ReferenceConfig
) -> None:
    first = seed_reference(db_session, reference_config)
    db_session.commit()
    second = seed_reference(db_session, reference_config)
    db_session.commit()
    assert first.blocks == 13 and second.blocks == 0
    assert first.routing_rules == len(reference_config.municipality.routing)
    assert second.routing_rules == 0 and second.calendar_days == 0
    assert db_session.scalar(select(func.count()).select_from(Block)) == 13
    assert db_session.scalar(select(func.count()).select_from(SlaPolicy)) == 4
    assert db_session.scalar(select(func.count()).select_from(RoutingRule)) == first.routing_rules
    assert db_session.scalar(select(func.count()).select_from(Settlement)) >= 10
    new_year = db_session.get(CalendarDay, datetime(2026, 1, 5, tzinfo=UTC).date())
    assert new_year is not None and new_year.kind == "holiday"


def test_seed_keeps_admin_edits(db_session: Session, reference_config: ReferenceConfig) -> None:
    seed_reference(db_session, reference_config)
    block = db_session.get(Block, "roads")
    assert block is not None
    block.name = "Дороги и мосты"
    db_session.commit()
    seed_reference(db_session, reference_config)
    db_session.commit()
    db_session.expire_all()
    assert db_session.get(Block, "roads").name == "Дороги и мосты"  # type: ignore[union-attr]
