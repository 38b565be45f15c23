"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, fresh per test.

PostgreSQL is taken from MCU_TEST_DATABASE_URL (default: the local trust-auth server).
When it is unreachable the PostgreSQL variants are skipped with the reason shown, unless
MCU_REQUIRE_POSTGRES=1 (CI), where unreachable PostgreSQL fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from config.reference import ReferenceConfig, load_reference
from config.settings import CONFIG_DIR
from core import migrate
from core.db import make_engine, session_factory
from core.models import Base
from core.seed import seed_reference

PG_URL = os.environ.get(
    "MCU_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("MCU_REQUIRE_POSTGRES") == "1"
REPO_ROOT = Path(__file__).resolve().parent.parent
_SCHEMAS: dict[int, str] = {}


def _postgres_engine() -> tuple[Engine | None, str]:
    """An engine on a private schema of the test database, or None and the reason."""
    schema = f"mcu_test_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        return None, f"PostgreSQL недоступен по {PG_URL}: {str(exc.orig).strip()[:200]}"
    admin.dispose()
    url = make_engine(PG_URL).url.update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(url.render_as_string(hide_password=False))
    _SCHEMAS[id(engine)] = schema
    return engine, ""


def _drop_schema(engine: Engine) -> None:
    schema = _SCHEMAS.pop(id(engine), None)
    engine.dispose()
    if schema:
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated database, once per backend per test session."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "test.db"
        engine = make_engine(f"sqlite:///{path}")
    else:
        maybe, reason = _postgres_engine()
        if maybe is None:
            if REQUIRE_PG:
                pytest.fail(f"MCU_REQUIRE_POSTGRES=1: {reason}")
            pytest.skip(reason)
        engine = maybe
    migrate.upgrade(engine)
    yield engine
    if request.param == "postgresql":
        _drop_schema(engine)
    else:
        engine.dispose()


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
