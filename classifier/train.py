"""Training: features, cross-validated metrics, calibrated block model and urgency model."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.svm import LinearSVC

from classifier.corpus import CORPUS_PATH, HANDWRITTEN, read_corpus
from classifier.evaluate import evaluate
from classifier.features import FeatureConfig, TextFeatures, prepare
from classifier.linear import CalibratedLinearHead, LogisticHead
from classifier.model import BlockClassifier, ModelMetadata
from classifier.registry import ModelRegistry

SVC_C = 0.5
MIN_URGENT_LABELS = 20
# Hand-written and operator-corrected examples are in-domain and clean: they count double.
CURATED_WEIGHT = 2.0


def _svc() -> LinearSVC:
    return LinearSVC(C=SVC_C, class_weight="balanced", max_iter=5000)


def select_examples(
    examples: Sequence[tuple[str, str]],
    *,
    blocks: Sequence[str],
    urgent: Sequence[bool | None] | None = None,
    weights: Sequence[float] | None = None,
) -> tuple[list[tuple[str, str]], list[bool | None], list[float], int]:
    """Keep examples of known blocks with at least two examples; return them and the drop count."""
    n = len(examples)
    flags = list(urgent) if urgent is not None else [None] * n
    weight = list(weights) if weights is not None else [1.0] * n
    allowed = set(blocks)
    counts = Counter(block for _, block in examples if block in allowed)
    # Stratified CV and calibration need two examples of a block at the very least.
    keep = [i for i, (_, block) in enumerate(examples) if counts.get(block, 0) >= 2]
    kept = [(str(examples[i][0]), examples[i][1]) for i in keep]
    return kept, [flags[i] for i in keep], [weight[i] for i in keep], n - len(keep)


def examples_sha256(examples: Sequence[tuple[str, str]]) -> str:
    """Order-independent hash of the labelled texts a model was trained on."""
    digest = hashlib.sha256()
    for line in sorted(f"{block}\t{text}" for text, block in examples):
        digest.update(line.encode("utf-8", "surrogatepass") + b"\n")
    return digest.hexdigest()


def cross_validate(
    x: sp.csr_matrix, y: Sequence[str], *, weights: Sequence[float], folds: int, seed: int
) -> dict[str, Any]:
    """Out-of-fold macro-F1/accuracy of the linear model (vectorizers fitted once, unsupervised)."""
    if folds < 2:
        return {"cv_folds": 0}
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    params = {"sample_weight": np.asarray(weights)}
    pred = cross_val_predict(_svc(), x, np.asarray(y), cv=cv, params=params)
    report = evaluate(list(y), [str(p) for p in pred], sorted(set(y)))
    per_block = {b: round(m["f1"], 4) for b, m in report["per_block"].items()}
    return {
        "cv_folds": folds,
        "macro_f1": round(report["macro_f1"], 4),
        "accuracy": round(report["accuracy"], 4),
        "per_block_f1": per_block,
    }


def fit_block_model(
    x: sp.csr_matrix, y: Sequence[str], *, weights: Sequence[float], folds: int, seed: int
) -> Any:
    """LinearSVC with sigmoid-calibrated probabilities, averaged over the CV folds."""
    cv = StratifiedKFold(n_splits=max(folds, 2), shuffle=True, random_state=seed)
    model = CalibratedClassifierCV(_svc(), method="sigmoid", cv=cv, ensemble=True)
    return model.fit(x, np.asarray(y), sample_weight=np.asarray(weights))


def fit_urgent_model(x: sp.csr_matrix, labels: Sequence[bool | None]) -> Any | None:
    """Binary urgency model on the rows that carry a label, if there are enough of both kinds."""
    rows = [i for i, u in enumerate(labels) if u is not None]
    y = np.asarray([bool(labels[i]) for i in rows])
    if len(rows) < MIN_URGENT_LABELS or y.all() or not y.any():
        return None
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000)
    return model.fit(x[rows], y)


def train_classifier(
    examples: Sequence[tuple[str, str]],
    *,
    blocks: Sequence[str],
    urgent: Sequence[bool | None] | None = None,
    weights: Sequence[float] | None = None,
    cv_folds: int = 3,
    seed: int = 13,
    feature_config: FeatureConfig | None = None,
) -> BlockClassifier:
    """Train a classifier on (text, block) examples restricted to the configured blocks."""
    kept, flags, weight, dropped = select_examples(
        examples, blocks=blocks, urgent=urgent, weights=weights
    )
    labels = [b for _, b in kept]
    if len(set(labels)) < 2:
        raise ValueError("training needs at least two blocks with two or more examples each")
    features = TextFeatures(feature_config)
    x = features.fit_transform([prepare(t) for t, _ in kept])
    folds = min(cv_folds, min(Counter(labels).values()))
    metrics = cross_validate(x, labels, weights=weight, folds=folds, seed=seed)
    metrics["untrained_blocks"] = sorted(set(blocks) - set(labels))
    now = datetime.now(UTC)
    metadata = ModelMetadata(
        version=f"{now:%Y.%m.%d}-1",
        trained_at=now.isoformat(timespec="seconds"),
        corpus_sha256=examples_sha256(kept),
        blocks=list(blocks),
        metrics=metrics,
        n_train=len(kept),
        dropped_examples=dropped,
    )
    block_model = fit_block_model(x, labels, weights=weight, folds=folds, seed=seed)
    urgent_model = fit_urgent_model(x, flags)
    block_head = CalibratedLinearHead(block_model)
    urgent_head = LogisticHead(urgent_model) if urgent_model is not None else None
    _verify_heads(x, features.n_word_features, block_model, block_head, urgent_model, urgent_head)
    return BlockClassifier(
        features=features,
        block_head=block_head,
        urgent_head=urgent_head,
        metadata=replace(metadata, urgent_model=urgent_model is not None),
    )


def _verify_heads(
    x: sp.csr_matrix,
    n_word: int,
    block_model: Any,
    block_head: CalibratedLinearHead,
    urgent_model: Any | None,
    urgent_head: LogisticHead | None,
) -> None:
    # The flattened heads re-implement sklearn's maths; refuse a model if they ever disagree.
    sample = x[: min(x.shape[0], 300)]
    parts = (sample[:, :n_word], sample[:, n_word:])
    ok = np.allclose(block_head.predict_proba(parts), block_model.predict_proba(sample), atol=1e-4)
    if urgent_model is not None and urgent_head is not None:
        expected = urgent_model.predict_proba(sample)[:, 1]
        ok = ok and np.allclose(urgent_head.positive_proba(parts), expected, atol=1e-4)
    if not ok:
        raise RuntimeError("flattened linear heads disagree with the fitted sklearn models")


@dataclass
class TrainingSet:
    """Examples with their urgency labels and sample weights, aligned by index."""

    examples: list[tuple[str, str]]
    urgent: list[bool | None]
    weights: list[float]

    def extend(self, examples: Sequence[tuple[str, str]], *, weight: float) -> None:
        """Append examples that carry no urgency label."""
        self.examples.extend(examples)
        self.urgent.extend([None] * len(examples))
        self.weights.extend([weight] * len(examples))


def corpus_training_set(corpus_path: Path = CORPUS_PATH) -> TrainingSet:
    """Train split of the curated corpus (hand-written rows included, weighted up)."""
    rows = [r for r in read_corpus(corpus_path) if r.split == "train"]
    return TrainingSet(
        [(r.text, r.block) for r in rows],
        [r.urgent for r in rows],
        [CURATED_WEIGHT if r.source == HANDWRITTEN else 1.0 for r in rows],
    )


def train_active(
    *,
    models_dir: Path,
    extra_examples: Sequence[tuple[str, str]] = (),
    blocks: Sequence[str],
    corpus_path: Path = CORPUS_PATH,
) -> ModelMetadata:
    """Train on the corpus train split plus operator corrections, save it and make it active."""
    data = corpus_training_set(corpus_path)
    data.extend(extra_examples, weight=CURATED_WEIGHT)
    model = train_classifier(data.examples, blocks=blocks, urgent=data.urgent, weights=data.weights)
    ModelRegistry(models_dir).save_new(model)
    return model.metadata
