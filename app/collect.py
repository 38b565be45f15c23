"""Run one collector pass for a source, with its health and errors recorded on the source."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.context import AppContext
from app.pipeline import store_batch
from collectors import repository as collectors_repo
from collectors.base import Collector
from collectors.errors import CollectorError, RateLimitedError
from core.errors import NotFoundError
from core.models import Source
from core.types import StoreResult


def make_collector(ctx: AppContext, source: Source) -> Collector:
    """The collector for a source's kind, configured from the source row and settings."""
    if source.kind == "demo":
        from collectors.demo import DemoCollector

        return DemoCollector(
            rate_per_minute=ctx.settings.demo_rate_per_minute, secret=ctx.settings.secret_key
        )
    if source.kind == "vk":
        from app.cli_sources import make_vk_collector

        return make_vk_collector(ctx, source)
    if source.kind == "email":
        from collectors.mail import ImapCollector

        return ImapCollector.from_source(source, secret=ctx.settings.secret_key)
    raise NotFoundError(
        f"источник {source.name!r} вида {source.kind!r} не опрашивается по расписанию"
    )


def run_pass(
    session: Session, *, name: str, now: datetime, build: Callable[[Source], Collector]
) -> StoreResult:
    """One pass: fetch, store idempotently, move the cursor; failures mark the source."""
    source = collectors_repo.get_source(session, name=name)
    if source is None:
        raise NotFoundError(f"нет источника {name!r}; список: `mcu sources`")
    if source.paused_until is not None and source.paused_until > now:
        return StoreResult(0, 0, 0, 0)
    collector: Collector | None = None
    try:
        # Building the collector can fail too (no password, bad settings): recorded the same way.
        collector = build(source)
        with session.begin_nested():
            return store_batch(session, collector=collector, source_name=name, now=now)
    except RateLimitedError as exc:
        source.paused_until = now + exc.retry_after
        collectors_repo.record_failure(
            session, source=source, error=str(exc), now=now, status=exc.status
        )
    except CollectorError as exc:
        collectors_repo.record_failure(
            session, source=source, error=str(exc), now=now, status=exc.status
        )
    finally:
        close = getattr(collector, "close", None)
        if callable(close):
            close()
    return StoreResult(0, 0, 0, 1)


def collect_source(ctx: AppContext, session: Session, *, name: str, now: datetime) -> StoreResult:
    """One scheduled pass of a configured source."""
    return run_pass(session, name=name, now=now, build=lambda source: make_collector(ctx, source))


def collect_all(ctx: AppContext, session: Session, now: datetime) -> dict[str, Any]:
    """A pass over every enabled, polled source whose interval has elapsed."""
    results: dict[str, Any] = {}
    for source in collectors_repo.list_sources(session):
        demo = bool((source.settings or {}).get("demo"))  # demo rows are fed by the demo stream
        if not source.enabled or source.kind not in POLLED_KINDS or demo:
            continue
        last = source.last_success_at or source.last_error_at
        if last is not None and (now - last).total_seconds() < source.interval_seconds:
            continue
        results[source.name] = collect_source(ctx, session, name=source.name, now=now).to_dict()
    return results


POLLED_KINDS: frozenset[str] = frozenset({"vk", "email"})
