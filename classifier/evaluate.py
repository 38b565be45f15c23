"""Evaluation metrics for block predictions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def evaluate(y_true: Sequence[str], y_pred: Sequence[str], blocks: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 over blocks, per-block P/R/F1/support and the confusion matrix."""
    if len(y_true) != len(y_pred):
        raise ValueError("y_true and y_pred differ in length")
    labels = list(dict.fromkeys([*blocks, *y_true, *y_pred]))
    index = {label: i for i, label in enumerate(labels)}
    confusion = [[0] * len(labels) for _ in labels]
    for t, p in zip(y_true, y_pred, strict=True):
        confusion[index[t]][index[p]] += 1
    per_block: dict[str, dict[str, float | int]] = {}
    for label in labels:
        i = index[label]
        tp = confusion[i][i]
        predicted = sum(row[i] for row in confusion)
        support = sum(confusion[i])
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_block[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    # Macro-F1 averages blocks that occur in the data or the predictions, like sklearn.
    present = [b for b in labels if per_block[b]["support"] or any(r[index[b]] for r in confusion)]
    n = len(y_true)
    return {
        "accuracy": sum(confusion[i][i] for i in range(len(labels))) / n if n else 0.0,
        "macro_f1": sum(per_block[b]["f1"] for b in present) / len(present) if present else 0.0,
        "per_block": per_block,
        "confusion": {"labels": labels, "matrix": confusion},
        "n": n,
    }
