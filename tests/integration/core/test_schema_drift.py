"""The Alembic migrations build exactly the schema of core.models, on SQLite and PostgreSQL.

An empty database is upgraded to head with core.migrate (the `db_engine` fixture). Alembic's
autogenerate then compares it with `Base.metadata`: tables, columns, types, nullability,
server defaults, indexes, unique constraints and foreign keys. Any difference means a model
was changed without a migration, or a migration without its model.

Autogenerate cannot see two things, so they are checked against a second database made by
`Base.metadata.create_all`, in the words of the database itself: the predicates of partial
indexes (never compared by autogenerate) and, on SQLite, indexes with DESC columns (SQLite
reflection drops DESC).
"""

from __future__ import annotations

import pprint
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.util.sqla_compat import is_expression_index
from sqlalchemy import JSON, Connection, Engine, text

from core.db import make_engine
from core.models import Base
from tests.pg import private_schema


def _compare_json_default(
    context: MigrationContext,
    inspected_column: Any,
    metadata_column: Any,
    inspected_default: str | None,
    metadata_default: Any,
    rendered_metadata_default: str | None,
) -> bool | None:
    """JSON defaults compared as text (PostgreSQL has no `json = unknown` operator)."""
    if not isinstance(metadata_column.type, JSON):
        return None  # Alembic's own comparison
    strip = re.compile(r"::jsonb?$|^\(|\)$")
    return strip.sub("", inspected_default or "") != strip.sub("", rendered_metadata_default or "")


def autogenerate_diff(connection: Connection) -> list[Any]:
    """What `alembic revision --autogenerate` would write for this database."""
    sqlite = connection.dialect.name == "sqlite"

    def include(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
        """Leave DESC/expression indexes to `index_definitions` on SQLite."""
        index = other if reflected else obj
        return not (
            sqlite and type_ == "index" and index is not None and is_expression_index(index)
        )

    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "compare_server_default": _compare_json_default,
            "include_object": include,
        },
    )
    return list(compare_metadata(context, Base.metadata))


def index_definitions(connection: Connection) -> dict[str, str]:
    """Every index as the database itself renders it, keyed by name (whitespace normalized)."""
    if connection.dialect.name == "sqlite":
        rows = connection.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
                "AND tbl_name != 'alembic_version'"
            )
        )
    else:
        rows = connection.execute(
            text(
                "SELECT indexname, replace(indexdef, current_schema() || '.', '') "
                "FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename != 'alembic_version'"
            )
        )
    return {name: " ".join(sql.replace('"', "").split()) for name, sql in rows}


@pytest.fixture
def model_engine(db_engine: Engine, tmp_path: Path) -> Iterator[Engine]:
    """A database of the same backend made straight from the models by create_all."""
    if db_engine.dialect.name == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'models.db'}")
        Base.metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    with private_schema("mcu_models") as engine:
        Base.metadata.create_all(engine)
        yield engine


def test_migrated_schema_has_no_drift_from_the_models(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        diff = autogenerate_diff(connection)
    assert diff == [], "migrations and models differ:\n" + pprint.pformat(diff, width=100)


def test_indexes_match_the_models_as_the_database_writes_them(
    db_engine: Engine, model_engine: Engine
) -> None:
    with db_engine.connect() as migrated, model_engine.connect() as modelled:
        got, want = index_definitions(migrated), index_definitions(modelled)
    differ = {
        name: {"migrations": got.get(name), "models": want.get(name)}
        for name in got.keys() | want.keys()
        if got.get(name) != want.get(name)
    }
    assert differ == {}, "indexes differ:\n" + pprint.pformat(differ, width=100)
