"""Prediction invariants of a small model trained from a tiny fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifier.features import prepare
from classifier.model import BlockClassifier, Prediction
from classifier.train import train_classifier

from .conftest import BLOCKS, TINY_EXAMPLES

TEXTS = [
    "огромная яма на дороге возле школы",
    "в подъезде не убирают, управляющая компания молчит",
    "не горят фонари, уличное освещение не работает",
    "пожар! горит сарай у соседей",
    "всем доброго утра",
    "нет отопления, в квартире холодно",
]


def _check(p: Prediction, classes: list[str], threshold: float = 0.5) -> None:
    assert p.block in classes
    assert 0.0 <= p.confidence <= 1.0
    assert len(p.top3) == 3
    probs = [prob for _, prob in p.top3]
    assert probs == sorted(probs, reverse=True)
    assert (p.block, p.confidence) == p.top3[0]
    assert sum(probs) <= 1.0 + 1e-6
    assert p.noise == (p.block == "other")
    assert p.needs_review == (p.confidence < threshold)
    if p.block == "emergency":
        assert p.urgent and "emergency_block" in p.reasons
    if p.urgent:
        assert p.reasons


def test_prediction_invariants(tiny_model: BlockClassifier) -> None:
    for p in tiny_model.predict_many(TEXTS):
        _check(p, tiny_model.classes)


def test_obvious_cases(tiny_model: BlockClassifier) -> None:
    roads, _, energy, fire, _, heating = tiny_model.predict_many(TEXTS)
    assert roads.block == "roads"
    assert energy.block == "energy"
    assert fire.urgent
    assert heating.urgent and "rule:no_heating" in heating.reasons


def test_predict_matches_predict_many(tiny_model: BlockClassifier) -> None:
    assert [tiny_model.predict(t) for t in TEXTS] == tiny_model.predict_many(TEXTS)


def test_threshold_controls_review(tiny_model: BlockClassifier) -> None:
    p = tiny_model.predict(TEXTS[0], threshold=1.0)
    assert p.needs_review
    assert any(r.startswith("low_confidence") for r in p.reasons)
    assert not tiny_model.predict(TEXTS[0], threshold=0.0).needs_review


def test_to_dict_is_json(tiny_model: BlockClassifier) -> None:
    data = json.loads(json.dumps(tiny_model.predict(TEXTS[1]).to_dict(), ensure_ascii=False))
    assert set(data) == {
        "block",
        "confidence",
        "top3",
        "urgent",
        "noise",
        "needs_review",
        "reasons",
    }


def test_metadata(tiny_model: BlockClassifier) -> None:
    meta = tiny_model.metadata
    assert meta.blocks == BLOCKS
    assert meta.metrics["cv_folds"] == 3
    assert 0.0 <= meta.metrics["macro_f1"] <= 1.0
    assert len(meta.corpus_sha256) == 64
    assert meta.urgent_model
    assert meta.version.count(".") == 2 and "-" in meta.version


def test_examples_of_unknown_blocks_are_dropped_and_counted() -> None:
    extra = [("продам гараж", "ads"), ("куплю дом", "ads")]
    model = train_classifier([*TINY_EXAMPLES, *extra], blocks=BLOCKS)
    assert model.metadata.dropped_examples == 2
    assert "ads" not in model.classes


def test_a_configured_block_without_examples_is_reported() -> None:
    model = train_classifier(TINY_EXAMPLES, blocks=[*BLOCKS, "property"])
    assert model.metadata.metrics["untrained_blocks"] == ["property"]


def test_training_needs_two_blocks() -> None:
    with pytest.raises(ValueError):
        train_classifier([("яма", "roads"), ("ямы", "roads")], blocks=BLOCKS)


def test_save_and_load_round_trip(tiny_model: BlockClassifier, tiny_model_path: Path) -> None:
    loaded = BlockClassifier.load(tiny_model_path)
    assert loaded.metadata == tiny_model.metadata
    assert loaded.predict_many(TEXTS) == tiny_model.predict_many(TEXTS)


def test_fast_features_match_sklearn(tiny_model: BlockClassifier) -> None:
    docs = [prepare(t) for t in [*TEXTS, "", "яма яма яма на дороге дороге"]]
    features = tiny_model.features
    chars = [d.tokens_text for d in docs]
    words = [d.lemmas_text for d in docs]
    fast_words, fast_chars = features.transform_parts(docs)
    assert fast_chars.toarray() == pytest.approx(features.char.transform(chars).toarray(), abs=1e-6)
    assert fast_words.toarray() == pytest.approx(features.word.transform(words).toarray(), abs=1e-6)


def test_two_blocks_use_the_binary_path() -> None:
    two = [(t, b) for t, b in TINY_EXAMPLES if b in ("roads", "housing")]
    model = train_classifier(two, blocks=["roads", "housing"])
    p = model.predict("яма на дороге")
    assert p.block == "roads" and len(p.top3) == 2
    assert sum(prob for _, prob in p.top3) == pytest.approx(1.0)
