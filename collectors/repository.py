"""SQL for collectors: sources, cursors, health and idempotent message storage."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Insert, Table, false, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.models import Message, Source
from core.types import RawMessage

MAX_TEXT_CHARS = 100_000  # longer texts are cut and marked, never rejected
STORE_CHUNK = 1000  # rows per INSERT statement


def get_source(session: Session, *, name: str) -> Source | None:
    """The source with this name, if any."""
    return session.scalar(select(Source).where(Source.name == name))


def ensure_source(session: Session, *, name: str, kind: str, **fields: Any) -> Source:
    """Return the named source, creating it with `fields` if missing."""
    source = get_source(session, name=name)
    if source is None:
        source = Source(name=name, kind=kind, **fields)
        session.add(source)
        session.flush()
    return source


def list_sources(session: Session) -> list[Source]:
    """All sources, ordered by name."""
    return list(session.scalars(select(Source).order_by(Source.name)))


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _row(source_id: int, msg: RawMessage) -> dict[str, Any]:
    text = msg.text.replace("\x00", "")
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS] + " […текст сокращён]"
    return {
        "source_id": source_id,
        "external_id": msg.external_id[:200],
        "author_id": msg.author_id,
        "author_name": (msg.author_name or None) and msg.author_name[:200],
        "text": text,
        "url": msg.url,
        "created_at": msg.created_at,
        "thread_id": msg.thread_id,
        "reply_to": msg.reply_to,
        "attachments": list(msg.attachments),
        "place_text": msg.place_text,
        "lat": msg.geo.lat if msg.geo else None,
        "lon": msg.geo.lon if msg.geo else None,
        "contact": msg.contact,
        "extra": dict(msg.extra),
        "status": "new",
    }


def store_messages(
    session: Session, *, source: Source, messages: Sequence[RawMessage], now: datetime
) -> tuple[int, int]:
    """Insert messages once per (source, external_id); return (stored, duplicates).

    One INSERT … ON CONFLICT DO NOTHING RETURNING per chunk of the batch: a repeated
    external_id, stored before or earlier in the same batch, is skipped and counted.
    """
    rows = [_row(source.id, msg) | {"received_at": now} for msg in messages]
    stored = 0
    for i in range(0, len(rows), STORE_CHUNK):
        chunk = rows[i : i + STORE_CHUNK]
        pg = session.get_bind().dialect.name == "postgresql"
        stored += _insert_pg(session, chunk) if pg else _insert_values(session, chunk)
    return stored, len(messages) - stored


def _insert_values(session: Session, rows: list[dict[str, Any]]) -> int:
    """Multi-row VALUES pages (SQLAlchemy's insertmanyvalues); returns how many were new."""
    table = cast(Table, Message.__table__)
    stmt: Insert = _insert(session)(table).returning(table.c.id)
    stmt = stmt.on_conflict_do_nothing(index_elements=["source_id", "external_id"])  # type: ignore[attr-defined]
    return len(session.execute(stmt, rows).all())


def _insert_pg(session: Session, rows: list[dict[str, Any]]) -> int:
    """The rows as one JSON parameter: psycopg parses a multi-row VALUES statement on the
    client for every page (slow with thousands of parameters); one parameter is not."""
    try:
        payload = json.dumps([_jsonable(row) for row in rows], ensure_ascii=False, allow_nan=False)
    except ValueError:  # NaN coordinates, naive times: the generic path stores or refuses them
        return _insert_values(session, rows)
    names = ", ".join(rows[0])
    stmt = text(
        f"INSERT INTO messages ({names}) SELECT {names} "
        "FROM json_populate_recordset(NULL::messages, :rows) "
        "ON CONFLICT (source_id, external_id) DO NOTHING RETURNING id"
    )
    return len(session.execute(stmt, {"rows": payload}).all())


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for key, value in row.items():
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            out[key] = value.astimezone(UTC).isoformat()
    return out


def record_success(
    session: Session,
    *,
    source: Source,
    cursor: dict[str, Any],
    fetched: int,
    stored: int,
    now: datetime,
) -> None:
    """Persist the cursor and health after a pass whose messages are stored."""
    source.cursor = dict(cursor)
    source.fetched_count += fetched
    source.stored_count += stored
    source.last_success_at = now
    source.status = "ok"


def record_failure(
    session: Session, *, source: Source, error: str, now: datetime, status: str = "error"
) -> None:
    """Remember a failed pass on the source's health."""
    source.error_count += 1
    source.last_error_at = now
    source.last_error = error[:2000]
    source.status = status


def claim_new_messages(session: Session, *, limit: int, after_id: int = 0) -> list[Message]:
    """Oldest unprocessed messages; rows another worker holds are skipped (PostgreSQL).

    `after_id`: the last message of a batch this worker still writes (app.overlap); its
    rows, locked until it commits, need not be walked and skipped one by one again.

    On SQLite the claim first takes the database's write lock (an empty UPDATE): the batch
    reads and then writes, and in WAL mode a transaction that has read cannot start writing
    once another thread (a collector, the web) has committed meanwhile — SQLite refuses at
    once with "database is locked" instead of waiting. Holding the lock from the start,
    other writers wait for the batch (busy_timeout) instead.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(update(Message).where(false()).values(status=Message.status))
    stmt = (
        select(Message)
        .where(Message.status == "new", Message.id > after_id)
        .order_by(Message.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))


def peek_new_messages(session: Session, *, after_id: int, limit: int) -> list[tuple[int, str]]:
    """(id, text) of the next unprocessed messages after `after_id`, unlocked: a read-ahead
    guess at the next claim (another worker may take them first)."""
    stmt = (
        select(Message.id, Message.text)
        .where(Message.status == "new", Message.id > after_id)
        .order_by(Message.id)
        .limit(limit)
    )
    return [(id_, text_) for id_, text_ in session.execute(stmt)]
