"""The trained sector-block classifier: prediction, urgency, noise and review flags."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from classifier.blocks import EMERGENCY_BLOCK, NOISE_BLOCK
from classifier.features import TextFeatures
from classifier.linear import CalibratedLinearHead, LogisticHead
from classifier.normalize import normalize_tokens
from classifier.quality import EMPTY, JUNK, check_text
from classifier.rule_seeds import RuleSeeds, compute_seeds, plant_seeds
from classifier.urgency import urgent_rules

DEFAULT_THRESHOLD = 0.5
# The urgency model learns from ~1k hand-written rows only; above 0.5 it flags short outage
# complaints («нет воды») too eagerly, so it must be surer than the block model.
URGENT_MODEL_THRESHOLD = 0.6
BATCH_SIZE = 2000
LOW_CONFIDENCE = "low_confidence"


@dataclass(frozen=True)
class Prediction:
    """Classification of one message."""

    block: str
    confidence: float
    top3: list[tuple[str, float]]
    urgent: bool
    noise: bool
    needs_review: bool
    reasons: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "block": self.block,
            "confidence": round(self.confidence, 4),
            "top3": [[b, round(p, 4)] for b, p in self.top3],
            "urgent": self.urgent,
            "noise": self.noise,
            "needs_review": self.needs_review,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class ModelMetadata:
    """What a saved model is and how well it did in cross-validation."""

    version: str
    trained_at: str
    corpus_sha256: str
    blocks: list[str]
    metrics: dict[str, Any] = field(default_factory=dict)
    n_train: int = 0
    dropped_examples: int = 0
    urgent_model: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


class BlockClassifier:
    """TF-IDF features + calibrated linear block model + optional binary urgency model."""

    # Saved models from before the seeds existed have none: their rules compute every token.
    rule_seeds: RuleSeeds | None = None
    _seeds_planted = False  # per process, never saved

    def __init__(
        self,
        *,
        features: TextFeatures,
        block_head: CalibratedLinearHead,
        urgent_head: LogisticHead | None,
        metadata: ModelMetadata,
    ) -> None:
        self.features = features
        self.block_head = block_head
        self.urgent_head = urgent_head
        self.metadata = metadata
        self.classes: list[str] = list(block_head.classes)
        table = getattr(features, "table", None)
        if table is not None:
            self.rule_seeds = compute_seeds(table.base_tokens)

    def predict(self, text: str, *, threshold: float = DEFAULT_THRESHOLD) -> Prediction:
        """Classify one message."""
        return self.predict_many([text], threshold=threshold)[0]

    def predict_many(
        self, texts: Iterable[str], *, threshold: float = DEFAULT_THRESHOLD
    ) -> list[Prediction]:
        """Classify many messages, vectorised in batches."""
        out: list[Prediction] = []
        batch: list[str] = []
        for text in texts:
            batch.append(text if isinstance(text, str) else "")
            if len(batch) >= BATCH_SIZE:
                out.extend(self._predict_batch(batch, threshold))
                batch = []
        if batch:
            out.extend(self._predict_batch(batch, threshold))
        return out

    def _predict_batch(self, texts: Sequence[str], threshold: float) -> list[Prediction]:
        if not self._seeds_planted:
            self._plant_seeds()
        prepared = [normalize_tokens(t) for t in texts]
        normalized = [n for n, _ in prepared]
        tokens = [t for _, t in prepared]
        parts = self.features.transform_tokens(tokens)
        proba = self.block_head.predict_proba(parts)
        urgent_p = (
            self.urgent_head.positive_proba(parts).tolist()
            if self.urgent_head is not None
            else [0.0] * len(texts)
        )
        # One argsort for the batch and plain floats: per-row numpy calls cost more here.
        order = np.argsort(-proba, axis=1)[:, :3]
        top_p = np.take_along_axis(proba, order, axis=1).tolist()
        classes = self.classes
        return [
            self._decide(
                normalized[i],
                tokens[i],
                [(classes[j], p) for j, p in zip(order_i, top_p[i], strict=True)],
                urgent_p[i],
                threshold,
            )
            for i, order_i in enumerate(order.tolist())
        ]

    def _decide(
        self,
        normalized: str,
        tokens: list[str],
        top3: list[tuple[str, float]],
        urgent_p: float,
        threshold: float,
    ) -> Prediction:
        block, confidence = top3[0]
        quality = check_text(normalized, tokens)
        unreadable = EMPTY in quality or JUNK in quality
        if unreadable:
            # Nothing to route: report noise with zero confidence, keep top3 for the operator.
            block = NOISE_BLOCK if NOISE_BLOCK in self.classes else block
            confidence = 0.0
            top3 = [] if EMPTY in quality else top3
        reasons = list(quality)
        if confidence < threshold:
            reasons.append(f"{LOW_CONFIDENCE}:{confidence:.2f}")
        urgent_reasons = [] if unreadable else _urgent_reasons(normalized, tokens, block, urgent_p)
        reasons.extend(urgent_reasons)
        noise = block == NOISE_BLOCK
        if noise:
            reasons.append("noise")
        needs_review = bool(quality) or confidence < threshold
        return Prediction(
            block, confidence, top3, bool(urgent_reasons), noise, needs_review, reasons
        )

    def _plant_seeds(self) -> None:
        table = self.features.table
        if self.rule_seeds is not None and table is not None:
            plant_seeds(self.rule_seeds, table.base_tokens)
        self._seeds_planted = True

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_seeds_planted", None)  # the process caches it refers to are not saved
        return state

    def save(self, path: Path) -> None:
        """Write the model with joblib (uncompressed: loads faster)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(self, path)

    @classmethod
    def load(cls, path: Path) -> BlockClassifier:
        """Read a model written by save()."""
        model = joblib.load(path)
        if not isinstance(model, cls):
            raise TypeError(f"{path} does not hold a {cls.__name__}")
        return model


def _urgent_reasons(normalized: str, tokens: list[str], block: str, urgent_p: float) -> list[str]:
    reasons = ["emergency_block"] if block == EMERGENCY_BLOCK else []
    reasons.extend(urgent_rules(normalized, tokens))
    if urgent_p >= URGENT_MODEL_THRESHOLD:
        reasons.append(f"urgent_model:{urgent_p:.2f}")
    return reasons


def timed_load(path: Path) -> tuple[BlockClassifier, float]:
    """Load a model and return it with the seconds it took."""
    start = time.perf_counter()
    model = BlockClassifier.load(path)
    return model, time.perf_counter() - start
