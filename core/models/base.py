"""Declarative base and column types shared by every table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, BindParameter, DateTime, MetaData, TypeDecorator, bindparam
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase


def inline_values(name: str, values: tuple[str, ...]) -> BindParameter[Any]:
    """Constants rendered into the SQL text (`column.in_(inline_values(...))`).

    A partial index (say, on open incidents) is usable only if the planner can prove the
    query implies its predicate; psycopg prepares a statement run often and PostgreSQL then
    plans it generically, for any values of its parameters, so statuses sent as parameters
    would never match the index. Only for fixed constants, never for user input.
    """
    return bindparam(name, values, expanding=True, literal_execute=True)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite stores them naive, so we re-attach UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Current instant in UTC (for column defaults only; rules take `now` as an argument)."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }
