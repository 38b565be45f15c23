"""Evaluation metrics on a hand-computed example."""

from __future__ import annotations

import pytest

from classifier.evaluate import evaluate


def test_hand_computed_example() -> None:
    y_true = ["roads", "roads", "housing", "housing", "other"]
    y_pred = ["roads", "housing", "housing", "housing", "roads"]
    report = evaluate(y_true, y_pred, ["roads", "housing", "other", "energy"])
    assert report["n"] == 5
    assert report["accuracy"] == pytest.approx(3 / 5)
    roads = report["per_block"]["roads"]
    # roads: tp 1, predicted 2, support 2 → P = R = F1 = 0.5
    assert (roads["precision"], roads["recall"], roads["f1"], roads["support"]) == (
        0.5,
        0.5,
        0.5,
        2,
    )
    housing = report["per_block"]["housing"]
    # housing: tp 2, predicted 3, support 2 → P 2/3, R 1, F1 0.8
    assert housing["precision"] == pytest.approx(2 / 3)
    assert housing["recall"] == 1.0
    assert housing["f1"] == pytest.approx(0.8)
    assert report["per_block"]["other"]["f1"] == 0.0
    # energy never occurs and is never predicted: it does not drag the macro average down.
    assert report["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert report["confusion"]["labels"] == ["roads", "housing", "other", "energy"]
    assert report["confusion"]["matrix"][0] == [1, 1, 0, 0]
    assert report["confusion"]["matrix"][2] == [1, 0, 0, 0]


def test_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError):
        evaluate(["roads"], [], ["roads"])
