"""Classification read-ahead: a helper process classifies the next batch while this one writes.

Intake is one writer at a time (duplicate search is exact only when each batch sees the one
before it), but classifying a message (the TF-IDF model and the place extraction) is pure
and is a good share of its cost. Under a backlog the worker hands the texts of the batch
after the current one to a helper process and writes the current one meanwhile, so both
cores of the machine work.

The guarantees do not move: the helper only computes. Its result is used for a message this
process has claimed only when the id, the text and the model version all match; everything
else is classified here, as without a helper. A helper that dies or hangs costs time, never
a message.

The helper holds a second copy of the model (~240 MB), so it lives only while it is of use:
the first full batch starts it, and when no read-ahead has been asked for during
`HELPER_IDLE_SECONDS` the intake job stops it (`ReadAhead.stop_if_idle`) and the memory goes
back to the system. The next backlog starts a new one, as the first did; what the stopped
helper had not handed over is classified here.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import multiprocessing.connection
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from app.context import AppContext
from app.models import ActiveModel, PlaceFinder
from classifier.model import Prediction
from classifier.place import Gazetteer
from classifier.registry import ModelRegistry
from core.models import Message
from incidents.dedupe import Place
from incidents.intake import TextFacts, text_facts

log = logging.getLogger("mcu.readahead")

# A helper that has not answered in this time is taken for hung and replaced.
HELPER_TIMEOUT_SECONDS = 120.0
# A helper asked for no read-ahead in this time is stopped, releasing its copy of the model;
# a backlog comes in bursts, and starting a new helper (loading the model) takes a few seconds.
HELPER_IDLE_SECONDS = 300.0
# How long an idle helper is given to leave on the executor's request before it is terminated,
# and how long a terminated one is waited for (so its memory is free when close() returns).
HELPER_EXIT_SECONDS = 5.0

# What classification gives a message: the column values of its classification row (block,
# confidence, top3, urgent, noise, needs_review, reasons, place), plain data to pass along.
Classified = dict[str, Any]
# A text read: its classification values and, when worked out ahead, its intake text facts.
Read = tuple[Classified, TextFacts | None]


def classification_values(prediction: Prediction, place: dict[str, Any]) -> Classified:
    """The classification row's values of a prediction and the place found in the text."""
    return {
        "block_code": prediction.block,
        "confidence": float(prediction.confidence),
        "top3": [[block, float(p)] for block, p in prediction.top3],
        "urgent": bool(prediction.urgent),
        "noise": bool(prediction.noise),
        "needs_review": bool(prediction.needs_review),
        "reasons": list(prediction.reasons),
        "place": place,
    }


def classify_texts(model: ActiveModel, places: PlaceFinder, texts: list[str]) -> list[Classified]:
    """Classification values of the texts (the same here and in the helper)."""
    predictions = model.predict_many(texts)
    return [
        classification_values(p, places.extract(t)) for p, t in zip(predictions, texts, strict=True)
    ]


# Text facts as they travel from the helper: plain strings (settlement, street, house, words
# joined by spaces, title, fingerprint). Unpickling the objects themselves cost the intake
# thread half of working them out there (about 11 µs a message against 22); strings, 3 µs.
_WireFacts = tuple[str | None, str | None, str | None, str, str | None, str | None]
# What the helper hands back for a text: its classification values and any text facts.
_WireRead = tuple[Classified, _WireFacts | None]


def _to_wire(facts: TextFacts) -> _WireFacts:
    place = facts.place
    words = " ".join(facts.words)  # content words hold no space
    return (place.settlement, place.street, place.house, words, facts.title, facts.fingerprint)


def _from_wire(wire: _WireFacts) -> TextFacts:
    settlement, street, house, words, title, fingerprint = wire
    return TextFacts(Place(settlement, street, house), tuple(words.split()), title, fingerprint)


def read_texts(model: ActiveModel, places: PlaceFinder, texts: list[str]) -> list[Read]:
    """What the helper gives each text: its classification values and, unless it is noise,
    its intake text facts (words, place, title, fingerprint), worked out off the intake
    thread, which is the worker's bottleneck."""
    return [
        (one, None if one["noise"] else text_facts(text, one["place"], for_new=True))
        for one, text in zip(classify_texts(model, places, texts), texts, strict=True)
    ]


_helper: tuple[ActiveModel, PlaceFinder] | None = None  # the model, in the helper process


def _start_helper(models_dir: str, version: str, threshold: float, gazetteer: Any) -> None:
    global _helper
    model = ActiveModel(ModelRegistry(Path(models_dir)).load(version), threshold=threshold)
    _helper = (model, PlaceFinder(Gazetteer.from_mapping(gazetteer)))
    # The model's objects live as long as the process: keep the collector from walking them.
    gc.collect()
    gc.freeze()


def _classify_in_helper(texts: list[str]) -> list[_WireRead]:
    if _helper is None:
        raise RuntimeError("the helper was not started")
    return [
        (one, None if facts is None else _to_wire(facts))
        for one, facts in read_texts(*_helper, texts)
    ]


@dataclass(frozen=True)
class _Ahead:
    """Texts handed to the helper, by message id, and the future of their results."""

    ids: list[int]
    texts: list[str]
    future: Future[list[_WireRead]]


class ReadAhead:
    """The helper process of one model version and the batch it is classifying."""

    def __init__(
        self,
        *,
        models_dir: Path,
        version: str,
        threshold: float,
        gazetteer: Mapping[str, Any],
        idle_seconds: float = HELPER_IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.version = version
        self._start_args = (str(models_dir), version, threshold, dict(gazetteer))
        self._pool: ProcessPoolExecutor | None = None
        self._warm: Future[list[_WireRead]] | None = None
        self._ahead: list[_Ahead] = []
        self._idle_seconds = idle_seconds
        self._clock = clock
        self._asked_at = clock()  # when read-ahead was last asked for (or the helper started)
        self.used = 0  # messages whose classification came from the helper

    @property
    def running(self) -> bool:
        """Whether a helper process is started (it may still be loading the model)."""
        return self._pool is not None

    @property
    def pids(self) -> list[int]:
        """Process ids of the running helper (none when it is stopped)."""
        return [p.pid for p in self._processes() if p.pid is not None]

    def _processes(self) -> list[BaseProcess]:
        # The executor's own table: it keeps no public handle on its processes.
        pool = self._pool
        return list((getattr(pool, "_processes", None) or {}).values()) if pool else []

    def start(self) -> None:
        """Start the helper (it loads the model in the background)."""
        if self._pool is None:
            self._asked_at = self._clock()  # a new helper gets a whole idle period
            # spawn: the worker has threads (scheduler, connection pools) that fork would copy.
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_helper,
                initargs=self._start_args,
            )
            self._warm = self._pool.submit(_classify_in_helper, [])

    @property
    def ready(self) -> bool:
        """Whether the helper has loaded its model and takes work."""
        warm = self._warm
        return warm is not None and warm.done() and warm.exception() is None

    def wait_ready(self, timeout: float = HELPER_TIMEOUT_SECONDS) -> bool:
        """Start the helper and wait until it has loaded the model (start-up, benchmarks)."""
        self.start()
        if self._warm is not None:
            try:
                self._warm.result(timeout=timeout)
            except Exception:
                log.exception("classification helper did not start")
                self.close()
        return self.ready

    def prefetch(self, rows: Sequence[tuple[int, str]]) -> None:
        """Classify (id, text) rows likely to be claimed later; nothing until the helper is up."""
        self.start()
        self._asked_at = self._clock()
        if not rows or self._pool is None or not self.ready:
            return
        texts = [text for _, text in rows]
        future = self._pool.submit(_classify_in_helper, texts)
        # The batch claimed next and the one after it at most; an older guess missed.
        self._ahead = [*self._ahead[-1:], _Ahead([id_ for id_, _ in rows], texts, future)]

    def classify(
        self, model: ActiveModel, places: PlaceFinder, messages: Sequence[Message]
    ) -> list[Read]:
        """Classification of the claimed messages: the helper's where it matches (with its text
        facts), the rest here (without: intake works them out as it goes)."""
        found = self._take_ahead({m.id for m in messages}) if model.version == self.version else {}
        out: list[Read | None] = []
        missing: list[int] = []
        for i, message in enumerate(messages):
            hit = found.get(message.id)
            if hit is not None and hit[0] == message.text:
                out.append(hit[1])
            else:
                out.append(None)
                missing.append(i)
        self.used += len(messages) - len(missing)
        if missing:
            here = classify_texts(model, places, [messages[i].text for i in missing])
            for i, one in zip(missing, here, strict=True):
                out[i] = (one, None)
        return [one for one in out if one is not None]

    def _take_ahead(self, ids: set[int]) -> dict[int, tuple[str, Read]]:
        """Results of the handed-over batches that hold any of `ids` (those are used up)."""
        wanted = [a for a in self._ahead if not ids.isdisjoint(a.ids)]
        self._ahead = [a for a in self._ahead if ids.isdisjoint(a.ids)]
        found: dict[int, tuple[str, Read]] = {}
        for ahead in wanted:
            try:
                results = ahead.future.result(timeout=HELPER_TIMEOUT_SECONDS)
            except Exception:
                log.exception("classification helper failed; classifying here and restarting it")
                self.close()
                return {}
            for id_, text, (one, wire) in zip(ahead.ids, ahead.texts, results, strict=True):
                found[id_] = (text, (one, None if wire is None else _from_wire(wire)))
        return found

    def stop_if_idle(self) -> bool:
        """Stop the helper when no read-ahead was asked for in the idle period; True if stopped.

        Called by the intake job on each run without a backlog; the next prefetch starts a
        new helper. Results not yet taken are dropped: their messages are classified here.
        """
        idle = self._clock() - self._asked_at
        if self._pool is None or idle < self._idle_seconds:
            return False
        log.info("classification helper idle for %.0f s: stopping it to free its memory", idle)
        self.close(grace=HELPER_EXIT_SECONDS)
        return True

    def close(self, *, grace: float = 0.0) -> None:
        """Stop the helper (a new one starts on the next prefetch).

        The helper is given `grace` seconds to leave on the executor's request (an idle one
        does at once), then terminated: a hung helper would not stop by itself. Returns when
        the process has exited, or after HELPER_EXIT_SECONDS more.
        """
        processes = self._processes()
        pool, self._pool, self._warm, self._ahead = self._pool, None, None, []
        if pool is None:
            return
        pool.shutdown(wait=False, cancel_futures=True)
        left = _still_running(processes, grace)
        for process in left:
            process.terminate()
        if _still_running(left, HELPER_EXIT_SECONDS):
            log.warning("classification helper did not exit after terminate")


def _still_running(processes: list[BaseProcess], timeout: float) -> list[BaseProcess]:
    """The processes that have not exited within `timeout` seconds.

    Waits on the processes' sentinels, not with join(): the executor's own thread joins
    (reaps) them, and two threads waiting for one child race.
    """
    deadline = time.monotonic() + timeout
    left = list(processes)
    while left:
        ready = multiprocessing.connection.wait(
            [p.sentinel for p in left], timeout=max(0.0, deadline - time.monotonic())
        )
        if not ready:
            break
        left = [p for p in left if p.sentinel not in ready]
    return left


def read_ahead(ctx: AppContext, model: ActiveModel) -> ReadAhead:
    """This process's read-ahead for the active model (a new model gets a new helper)."""
    current: ReadAhead | None = ctx.cache.get("readahead")
    if current is None or current.version != model.version:
        if current is not None:
            current.close()
        current = ReadAhead(
            models_dir=ctx.settings.models_dir,
            version=model.version,
            threshold=model.threshold,
            gazetteer=ctx.config.gazetteer,
        )
        ctx.cache["readahead"] = current
    return current
