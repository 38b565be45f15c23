"""A benchmark's own PostgreSQL schema: made fresh before the run, dropped after it.

The engine's `search_path` is the schema, so the application's tables land there and the
test database's other schemas stay untouched.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from core.db import make_engine


def schema_url(base: str, schema: str) -> str:
    """`base` with `search_path` set to `schema`."""
    url = make_engine(base).url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def drop_schema(base: str, schema: str) -> None:
    """Drop `schema` and everything in it (nothing if it is not there)."""
    admin = make_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        admin.dispose()


def fresh_schema(base: str, schema: str) -> Engine:
    """An engine on `schema`, emptied first: dropped if a former run left it, created."""
    drop_schema(base, schema)
    admin = make_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    finally:
        admin.dispose()
    return make_engine(schema_url(base, schema))
