"""Two workers on one PostgreSQL never run the same job at once (advisory transaction lock)."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.context import AppContext
from app.jobs import run_guarded

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)


def _body(_ctx: AppContext, _session: Session, _now: datetime) -> dict[str, int]:
    return {"ran": 1}


def test_a_job_held_by_another_worker_is_skipped(app_ctx: AppContext) -> None:
    if app_ctx.engine.dialect.name != "postgresql":
        pytest.skip("the guard is PostgreSQL's advisory lock; SQLite has a single writer")
    key = zlib.crc32(b"mcu:collect_sources")
    with app_ctx.engine.connect() as other_worker:
        other_worker.execute(text("BEGIN"))
        assert other_worker.execute(
            text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}
        ).scalar()
        held = run_guarded(app_ctx, "collect_sources", _body, now=NOW)
        free_job = run_guarded(app_ctx, "escalation", _body, now=NOW)
        other_worker.execute(text("ROLLBACK"))
    after = run_guarded(app_ctx, "collect_sources", _body, now=NOW)
    assert "skipped" in held
    assert free_job == {"ran": 1}
    assert after == {"ran": 1}


def test_without_contention_the_job_runs(app_ctx: AppContext) -> None:
    assert run_guarded(app_ctx, "collect_sources", _body, now=NOW) == {"ran": 1}
