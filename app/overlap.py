"""The intake job with one batch's writes overlapping the next batch's decisions (PostgreSQL).

Deciding a batch (claim, classification from the read-ahead helper, duplicate search,
routing, deadlines) is Python work in this process; writing it (locks, COPYs, updates,
commit) is largely waiting for PostgreSQL. One after the other, each waits for the other.
Here a writer thread finishes and commits batch N on its own session while this thread
claims and decides batch N+1 on another, so the server's work and ours overlap.

What stays exact:
- N+1 sees N's new incidents and joins through N's carry (`incidents.batch.Carry`) until N
  is committed: its duplicate decisions are those of a run one batch after the other (the
  bench's result digest compares the two);
- batches are written in order, one at a time: N+1's finish starts after N's commit, so the
  incidents it joins (N's new ones among them) are locked as committed;
- N+1 claims with SKIP LOCKED: N's messages, locked until N commits, are not taken twice;
- what writes during N+1's decisions (a citizen's verdict reply, the one-by-one fallback)
  waits for N first;
- if N was not written as decided (its finish failed and its messages were taken one by one),
  N+1's decisions made on N's carry are dropped: its transaction is rolled back and its
  messages, still new, are claimed again. A failed write of N stops the run with its error,
  as a failed `run_guarded` does; what N+1 decided is rolled back.

The job's guard is a session-level advisory lock held for the run on a connection of its own
(two transactions are open at once); the key is `run_guarded`'s, so either kind of run
excludes the other. SQLite (one writer at a time) and MCU_INTAKE_OVERLAP=false run
`run_batches` of `process_pending`, one batch after the other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, text

from app.context import AppContext
from app.gcpause import collection_paused
from app.jobs import lock_key, run_batches
from app.models import active_classifier
from app.pipeline import NO_MODEL, DecidedBatch, claim_and_decide, process_pending, write_decided
from core.db import is_postgres, session_factory
from incidents.batch import Carry

log = logging.getLogger("mcu.overlap")

JOB = "process_messages"


@dataclass(frozen=True, slots=True)
class Written:
    """A batch committed: its counts, and whether it was written as decided."""

    stats: dict[str, int]
    as_decided: bool


class _InFlight:
    """A batch handed to the writer thread, with the carry taken before its finish."""

    def __init__(self, writer: ThreadPoolExecutor, decided: DecidedBatch) -> None:
        self._carry = decided.carry()  # taken first: the finish changes the batch's rows
        self._last = decided.last_claimed
        self._future: Future[Written] = writer.submit(write_and_commit, decided)
        self._settled = False

    def carry(self) -> Carry | None:
        return None if self._settled else self._carry

    def last_claimed(self) -> int:
        return self._last

    def settle(self) -> None:
        self.written()

    def written(self) -> Written:
        """Wait for the batch's commit (its error, if the write failed)."""
        try:
            return self._future.result()
        finally:
            self._settled = True


def write_and_commit(decided: DecidedBatch) -> Written:
    """The writer thread's part: finish the batch in its savepoint, commit, close."""
    session = decided.session
    try:
        stats = write_decided(decided)
        session.commit()
        return Written(stats, as_decided=not decided.taken_one_by_one)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


@contextmanager
def _job_lock(engine: Engine) -> Iterator[bool]:
    """Hold the job's advisory lock for the run (False: another process runs the job)."""
    key = {"k": lock_key(JOB)}
    with engine.connect() as connection:
        held = bool(connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), key))
        connection.commit()  # the lock is the session's: no transaction stays open
        try:
            yield held
        finally:
            if held:
                try:
                    connection.execute(text("SELECT pg_advisory_unlock(:k)"), key)
                    connection.commit()
                except Exception:  # a pooled connection must not keep the lock: drop it
                    connection.invalidate()
                    raise


def run_intake(
    ctx: AppContext, *, budget_seconds: float, now: datetime | None = None
) -> dict[str, Any]:
    """Batches of intake while there is a backlog and the budget lasts; summed counts and
    `more`, as `app.jobs.run_batches` gives them. The garbage collector is paused for the
    run (app.gcpause: it took a quarter of the run's time)."""
    with collection_paused():
        return _run_intake(ctx, budget_seconds=budget_seconds, now=now)


def _run_intake(ctx: AppContext, *, budget_seconds: float, now: datetime | None) -> dict[str, Any]:
    if not is_postgres(ctx.engine) or not ctx.settings.intake_overlap:
        return run_batches(ctx, JOB, process_pending, budget_seconds=budget_seconds, now=now)
    if active_classifier(ctx) is None:
        return NO_MODEL | {"more": False}
    with _job_lock(ctx.engine) as held:
        if not held:
            return {"skipped": "выполняется другим процессом", "more": False}
        try:
            return _overlapped(ctx, budget_seconds=budget_seconds, now=now)
        except Exception:
            log.exception("job %s failed", JOB)
            raise


def _overlapped(ctx: AppContext, *, budget_seconds: float, now: datetime | None) -> dict[str, Any]:
    began = time.monotonic()
    total: dict[str, int] = {}
    in_flight: _InFlight | None = None
    more = True
    with ThreadPoolExecutor(1, thread_name_prefix="mcu-intake-write") as writer:
        try:
            while more and (in_flight is None or time.monotonic() - began < budget_seconds):
                session = session_factory(ctx.engine)()
                try:
                    at = now or datetime.now(UTC)
                    decided, more = claim_and_decide(ctx, session, at, in_flight=in_flight)
                    if in_flight is not None:
                        written = in_flight.written()
                        in_flight = None
                        _add(total, written.stats)
                        if decided.carried and not written.as_decided:
                            log.warning(
                                "batch decided over a batch taken one by one: decided again"
                            )
                            session.rollback()
                            session.close()
                            more = True  # its messages are new again
                            continue
                except BaseException:
                    session.rollback()
                    session.close()
                    raise
                in_flight = _InFlight(writer, decided)
        finally:
            if in_flight is not None:
                _add(total, in_flight.written().stats)
    return total | {"more": more}


def _add(total: dict[str, int], stats: dict[str, int]) -> None:
    for key, value in stats.items():
        total[key] = total.get(key, 0) + value
