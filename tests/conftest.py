"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, fresh per test.

PostgreSQL is taken from MCU_TEST_DATABASE_URL (default: the local trust-auth server).
When it is unreachable the PostgreSQL variants are skipped with the reason shown, unless
MCU_REQUIRE_POSTGRES=1 (CI), where unreachable PostgreSQL fails the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session

from config.reference import ReferenceConfig, load_reference
from config.settings import CONFIG_DIR
from core import migrate
from core.db import make_engine, session_factory
from core.models import Base
from core.seed import seed_reference
from tests.pg import private_schema

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated database, once per backend per test session."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "test.db"
        engine = make_engine(f"sqlite:///{path}")
        migrate.upgrade(engine)
        yield engine
        engine.dispose()
        return
    with private_schema("mcu_test") as engine:
        migrate.upgrade(engine)
        yield engine


def _wipe(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
def db_session(db_engine: Engine) -> Iterator[Session]:
    """A session on an empty migrated database (SQLite and PostgreSQL)."""
    _wipe(db_engine)
    session = session_factory(db_engine)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@pytest.fixture(scope="session")
def reference_config() -> ReferenceConfig:
    """The default municipality from config/."""
    return load_reference(CONFIG_DIR)


@pytest.fixture
def seeded_session(db_session: Session, reference_config: ReferenceConfig) -> Session:
    """A session on a database seeded from config/ (no users, no messages)."""
    seed_reference(db_session, reference_config)
    db_session.commit()
    return db_session


def table_names(engine: Engine) -> set[str]:
    """Tables of the engine's default schema."""
    return set(inspect(engine).get_table_names())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in this thread
    until the session ends, and asyncio.run() in any later test would then refuse to start."""
    items.sort(key=lambda item: "tests/e2e/" in item.nodeid or item.nodeid.startswith("e2e/"))
