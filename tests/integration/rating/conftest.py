"""Fixtures of the rating integration tests: an empty schema on SQLite and PostgreSQL.

The rows are inserted by hand in each test, so nothing here depends on seeding.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.calendar import WorkCalendar
from core.db import make_engine, session_factory
from core.models import Base

PG_URL = os.environ.get(
    "MCU_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CALENDAR_YAML = Path(__file__).resolve().parents[3] / "config" / "calendar.yaml"


def _pg_session() -> Iterator[Session]:
    """A session on a private, freshly created PostgreSQL schema (dropped afterwards)."""
    schema = f"rating_test_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        if os.environ.get("MCU_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL недоступен по {PG_URL}: {exc.orig}")
        pytest.skip(f"PostgreSQL недоступен по {PG_URL}: {str(exc.orig).strip()[:200]}")
    url = admin.url.update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        Base.metadata.create_all(engine)
        session = session_factory(engine)()
        try:
            yield session
        finally:
            session.rollback()
            session.close()
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


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
