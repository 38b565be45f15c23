"""Job wrapper: one unit of work per run, a database guard so two workers never overlap."""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.context import AppContext
from core.db import is_postgres, session_factory
from core.models import JobRun

log = logging.getLogger("mcu.jobs")

JobBody = Callable[[AppContext, Session, datetime], dict[str, Any]]


def lock_key(name: str) -> int:
    """The advisory lock key of a job (PostgreSQL), whatever kind of run takes it."""
    return zlib.crc32(f"mcu:{name}".encode())


def _try_lock(session: Session, name: str) -> bool:
    # A transaction-level advisory lock: released by commit/rollback, so a crash frees it.
    key = lock_key(name)
    return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar())


def run_guarded(
    ctx: AppContext, name: str, body: JobBody, *, now: datetime | None = None
) -> dict[str, Any]:
    """Run `body` in one transaction unless another process is running the same job."""
    session = session_factory(ctx.engine)()
    now = now or datetime.now(UTC)
    try:
        if is_postgres(ctx.engine) and not _try_lock(session, name):
            session.rollback()
            return {"skipped": "выполняется другим процессом"}
        result = body(ctx, session, now)
        session.commit()
        return result
    except Exception:
        session.rollback()
        log.exception("job %s failed", name)
        raise
    finally:
        session.close()


def run_batches(
    ctx: AppContext,
    name: str,
    body: JobBody,
    *,
    budget_seconds: float,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Run `body` once per transaction while it reports `more` work and the budget lasts.

    Each batch is guarded and committed on its own (`run_guarded`), so a crash loses at most
    the batch in flight. Returns the sum of the batches' counts, with `more` of the last one.
    """
    began = time.monotonic()
    total: dict[str, Any] = {}
    while True:
        result = dict(run_guarded(ctx, name, body, now=now))
        more = bool(result.pop("more", False))
        for key, value in result.items():
            summable = isinstance(value, int | float) and not isinstance(value, bool)
            total[key] = total.get(key, 0) + value if summable else value
        if not more or time.monotonic() - began >= budget_seconds:
            return total | {"more": more}


def run_once_per_occurrence(
    ctx: AppContext, name: str, occurrence: str, body: JobBody, *, now: datetime | None = None
) -> dict[str, Any]:
    """Run a periodic job (e.g. the Monday report) exactly once per occurrence key."""
    now = now or datetime.now(UTC)
    session = session_factory(ctx.engine)()
    try:
        run = JobRun(job=name, occurrence=occurrence, started_at=now)
        session.add(run)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return {"skipped": f"{name} {occurrence} уже выполнен"}
        result = body(ctx, session, now)
        run.status, run.finished_at, run.stats = "done", datetime.now(UTC), result
        session.commit()
        return result
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()
