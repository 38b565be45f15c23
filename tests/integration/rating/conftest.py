"""Fixtures of the rating integration tests: an empty schema on SQLite and PostgreSQL.

The rows are inserted by hand in each test, so nothing here depends on seeding.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session

from core.calendar import WorkCalendar
from core.db import make_engine, session_factory
from core.models import Base
from tests.pg import private_schema

CALENDAR_YAML = Path(__file__).resolve().parents[3] / "config" / "calendar.yaml"


def _pg_session() -> Iterator[Session]:
    """A session on a private, freshly created PostgreSQL schema (dropped afterwards)."""
    with private_schema("rating_test") as engine:
        Base.metadata.create_all(engine)
        session = session_factory(engine)()
        try:
            yield session
        finally:
            session.rollback()
            session.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def rating_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Session]:
    """A session on an empty database with every table (SQLite file or PostgreSQL schema)."""
    if request.param == "postgresql":
        yield from _pg_session()
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'rating.db'}")
    Base.metadata.create_all(engine)
    session = session_factory(engine)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()
        engine.dispose()


@pytest.fixture(scope="session")
def work_calendar() -> WorkCalendar:
    """The production calendar from config/calendar.yaml in the municipality's zone."""
    with CALENDAR_YAML.open(encoding="utf-8") as fh:
        return WorkCalendar.from_mapping(yaml.safe_load(fh), tz="Asia/Vladivostok")
