"""`mcu run` is one process: collectors, intake and escalation write from threads at once.

On SQLite (the default) a transaction that has read and then writes is refused at once
with "database is locked" when another thread committed in between; the intake batch
therefore takes the write lock when it claims. Here a collector thread stores messages
every few milliseconds while intake and escalation run in their own threads: no job may
fail, and every stored message ends up processed.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import jobs, pipeline
from app.context import AppContext
from collectors import repository as collectors_repo
from core.db import session_scope
from core.models import Message, Source
from core.types import RawMessage

SECONDS = 4.0


def test_threads_writing_at_once_lose_nothing_and_fail_no_job(
    app_ctx: AppContext, seeded_session: Session
) -> None:
    source = Source(name="demo-threads", kind="demo")
    seeded_session.add(source)
    seeded_session.commit()
    stop = time.monotonic() + SECONDS
    errors: list[str] = []
    stored = 0

    def collector() -> None:
        nonlocal stored
        n = 0
        while time.monotonic() < stop:
            n += 1
            raw = [
                RawMessage(
                    source="demo",
                    external_id=f"t{n}-{k}",
                    text=f"Во дворе дома {k} на улице Ленина яма, машины бьются ({n})",
                    created_at=datetime.now(UTC),
                )
                for k in range(3)
            ]
            try:
                with session_scope(app_ctx.engine) as session:
                    fresh = session.get(Source, source.id)
                    assert fresh is not None
                    new, _ = collectors_repo.store_messages(
                        session, source=fresh, messages=raw, now=datetime.now(UTC)
                    )
                stored += new
            except Exception as exc:
                errors.append(f"collector: {exc}")
            time.sleep(0.005)

    def job(name: str, body: jobs.JobBody) -> None:
        while time.monotonic() < stop:
            try:
                jobs.run_guarded(app_ctx, name, body)
            except Exception as exc:
                errors.append(f"{name}: {str(exc)[:200]}")
            time.sleep(0.002)

    threads = [
        threading.Thread(target=collector),
        threading.Thread(target=job, args=("process_messages", pipeline.process_pending)),
        threading.Thread(target=job, args=("escalation", pipeline.escalate)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    while jobs.run_guarded(app_ctx, "process_messages", pipeline.process_pending).get("more"):
        pass  # the last messages stored after the intake thread stopped
    jobs.run_guarded(app_ctx, "process_messages", pipeline.process_pending)

    assert errors == []
    seeded_session.expire_all()
    left = seeded_session.scalar(
        select(func.count()).select_from(Message).where(Message.status == "new")
    )
    assert stored > 0 and left == 0
