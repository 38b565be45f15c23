"""Bad input never crashes the classifier and always comes back flagged."""

from __future__ import annotations

import os

from classifier.model import BlockClassifier, Prediction


def _flagged(p: Prediction) -> None:
    assert p.noise or p.needs_review
    assert p.reasons


def test_empty(tiny_model: BlockClassifier) -> None:
    p = tiny_model.predict("")
    _flagged(p)
    assert "empty_text" in p.reasons and p.confidence == 0.0 and p.top3 == []


def test_whitespace_only(tiny_model: BlockClassifier) -> None:
    p = tiny_model.predict(" \n\t  \u00a0 ")
    _flagged(p)
    assert "empty_text" in p.reasons


def test_emoji_only(tiny_model: BlockClassifier) -> None:
    p = tiny_model.predict("😡😡😡👍🏻🔥")
    _flagged(p)
    assert "empty_text" in p.reasons


def test_one_megabyte_text(tiny_model: BlockClassifier) -> None:
    text = ("яма на дороге по улице Ленина, " * 40_000)[:1_000_000]
    p = tiny_model.predict(text)
    assert p.block == "roads"
    assert p.reasons or not p.needs_review


def test_chuvash(tiny_model: BlockClassifier) -> None:
    p = tiny_model.predict('Ҫул ҫинчи "Кивӗ Йӗкӗт" кӑтартӑш пӗр чӗлхепе кӑна ҫырса хунӑ.')
    _flagged(p)
    assert "non_russian" in p.reasons


def test_english(tiny_model: BlockClassifier) -> None:
    p = tiny_model.predict("There is a huge pothole on the main road, please fix it")
    _flagged(p)
    assert "non_russian" in p.reasons


def test_kazakh(tiny_model: BlockClassifier) -> None:
    p = tiny_model.predict("Сәлеметсіз бе! Абай көшесіндегі жолдар өте нашар жағдайда.")
    _flagged(p)
    assert "non_russian" in p.reasons


def test_binary_junk(tiny_model: BlockClassifier) -> None:
    junk = bytes(range(256)).decode("latin-1") + os.urandom(512).decode("utf-8", "replace")
    p = tiny_model.predict(junk)
    _flagged(p)
    assert p.needs_review


def test_nul_bytes(tiny_model: BlockClassifier) -> None:
    p = tiny_model.predict("\x00\x00\x00")
    _flagged(p)
    assert "empty_text" in p.reasons


def test_nul_bytes_inside_text_are_ignored(tiny_model: BlockClassifier) -> None:
    p = tiny_model.predict("яма\x00 на дороге\x00")
    assert p.block == "roads"


def test_invalid_surrogates(tiny_model: BlockClassifier) -> None:
    p = tiny_model.predict("\ud800\udfff\ud800")
    _flagged(p)
    assert "empty_text" in p.reasons


def test_non_string_in_batch(tiny_model: BlockClassifier) -> None:
    p = tiny_model.predict_many([None])[0]  # type: ignore[list-item]
    _flagged(p)
