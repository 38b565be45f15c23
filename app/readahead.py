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
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.context import AppContext
from app.models import ActiveModel, PlaceFinder
from classifier.model import Prediction
from classifier.place import Gazetteer
from classifier.registry import ModelRegistry
from core.models import Message

log = logging.getLogger("mcu.readahead")

# A helper that has not answered in this time is taken for hung and replaced.
HELPER_TIMEOUT_SECONDS = 120.0

# What classification gives a message: the column values of its classification row (block,
# confidence, top3, urgent, noise, needs_review, reasons, place), plain data to pass along.
Classified = dict[str, Any]


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


_helper: tuple[ActiveModel, PlaceFinder] | None = None  # the model, in the helper process


def _start_helper(models_dir: str, version: str, threshold: float, gazetteer: Any) -> None:
    global _helper
    model = ActiveModel(ModelRegistry(Path(models_dir)).load(version), threshold=threshold)
    _helper = (model, PlaceFinder(Gazetteer.from_mapping(gazetteer)))
    # The model's objects live as long as the process: keep the collector from walking them.
    gc.collect()
    gc.freeze()


def _classify_in_helper(texts: list[str]) -> list[Classified]:
    if _helper is None:
        raise RuntimeError("the helper was not started")
    return classify_texts(*_helper, texts)


@dataclass(frozen=True)
class _Ahead:
    """Texts handed to the helper, by message id, and the future of their results."""

    ids: list[int]
    texts: list[str]
    future: Future[list[Classified]]


class ReadAhead:
    """The helper process of one model version and the batch it is classifying."""

    def __init__(
        self, *, models_dir: Path, version: str, threshold: float, gazetteer: Mapping[str, Any]
    ) -> None:
        self.version = version
        self._start_args = (str(models_dir), version, threshold, dict(gazetteer))
        self._pool: ProcessPoolExecutor | None = None
        self._warm: Future[list[Classified]] | None = None
        self._ahead: list[_Ahead] = []
        self.used = 0  # messages whose classification came from the helper

    def start(self) -> None:
        """Start the helper (it loads the model in the background)."""
        if self._pool is None:
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
        if not rows or self._pool is None or not self.ready:
            return
        texts = [text for _, text in rows]
        future = self._pool.submit(_classify_in_helper, texts)
        # The batch claimed next and the one after it at most; an older guess missed.
        self._ahead = [*self._ahead[-1:], _Ahead([id_ for id_, _ in rows], texts, future)]

    def classify(
        self, model: ActiveModel, places: PlaceFinder, messages: Sequence[Message]
    ) -> list[Classified]:
        """Classification of the claimed messages: the helper's where it matches, the rest here."""
        found = self._take_ahead({m.id for m in messages}) if model.version == self.version else {}
        out: list[Classified | None] = []
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
                out[i] = one
        return [one for one in out if one is not None]

    def _take_ahead(self, ids: set[int]) -> dict[int, tuple[str, Classified]]:
        """Results of the handed-over batches that hold any of `ids` (those are used up)."""
        wanted = [a for a in self._ahead if not ids.isdisjoint(a.ids)]
        self._ahead = [a for a in self._ahead if ids.isdisjoint(a.ids)]
        found: dict[int, tuple[str, Classified]] = {}
        for ahead in wanted:
            try:
                results = ahead.future.result(timeout=HELPER_TIMEOUT_SECONDS)
            except Exception:
                log.exception("classification helper failed; classifying here and restarting it")
                self.close()
                return {}
            for id_, text, one in zip(ahead.ids, ahead.texts, results, strict=True):
                found[id_] = (text, one)
        return found

    def close(self) -> None:
        """Stop the helper (a new one starts on the next prefetch)."""
        pool, self._pool, self._warm, self._ahead = self._pool, None, None, []
        if pool is None:
            return
        # A hung helper would not stop by itself (the executor only asks it to).
        processes = list(getattr(pool, "_processes", {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()


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
