"""Private PostgreSQL schemas for tests: one fresh schema per engine, dropped afterwards.

Every fixture that needs PostgreSQL takes its engine from `private_schema`, so the rule
is in one place: the test database of MCU_TEST_DATABASE_URL, `search_path` set to a new
schema; unreachable PostgreSQL skips the test with the reason, or fails it in CI
(MCU_REQUIRE_POSTGRES=1).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from core.db import make_engine

PG_URL = os.environ.get(
    "MCU_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("MCU_REQUIRE_POSTGRES") == "1"


def _admin(sql: str) -> None:
    admin = make_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(sql))
    finally:
        admin.dispose()


@contextmanager
def private_schema(prefix: str) -> Iterator[Engine]:
    """An engine on a new, empty schema named `{prefix}_<random>` of the test database."""
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    try:
        _admin(f'CREATE SCHEMA "{schema}"')
    except OperationalError as exc:
        reason = f"PostgreSQL недоступен по {PG_URL}: {str(exc.orig).strip()[:200]}"
        if REQUIRE_PG:
            pytest.fail(f"MCU_REQUIRE_POSTGRES=1: {reason}")
        pytest.skip(reason)
    url = make_engine(PG_URL).url.update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(url.render_as_string(hide_password=False))
    try:
        yield engine
    finally:
        engine.dispose()
        _admin(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
