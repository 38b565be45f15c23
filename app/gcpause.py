"""The cyclic garbage collector paused for a run of the intake job.

A run allocates hundreds of thousands of short-lived objects per batch: ORM rows, duplicate
candidates, classification values, rows to write. Nearly all of them are freed by their
reference counts the moment they are dropped, yet every 700 allocations the collector walks
the young ones, and every few hundred collections the whole heap not frozen at start-up.
In bench/incidents.py (20,000 messages, 100,000 open incidents, PostgreSQL) it ran about
2,000 times during the intake runs, 15 of them full collections, for 2.6 s of the 9.8 s the
runs took, and each collection holds the GIL: the deciding and the writing thread both wait.
Paused for a run, the run's cyclic garbage is collected by the first collection after it
(0.06–0.08 s), and the process's peak memory stayed the same (425 MB).

A run lasts at most its budget plus one batch (app.scheduler.BATCH_RUN_SECONDS), so what it
can leave for the collector is bounded. The collector is the process's: other threads (the
web of `mcu run`) also run without it for that long; their garbage is collected after.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collection_paused() -> Iterator[None]:
    """No automatic collection inside; switched back on after (if it was on before), also
    when the body raises. One caller at a time: the intake job runs once per process."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
