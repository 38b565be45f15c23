"""The lemma shortcut and the shipped rule seeds change nothing but speed.

best_normal_form reads pymorphy3's dictionary directly instead of calling parse(); the rule
seeds are per-token values computed while training. Both are compared here with what they
replace: parse() on every token of the training corpus, and token values computed on sight.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import joblib
import pytest

from classifier import quality, urgency
from classifier.corpus import read_corpus
from classifier.model import BlockClassifier
from classifier.morph import best_normal_form, morph_analyzer
from classifier.normalize import normalize_tokens, parse_lemma
from classifier.rule_seeds import compute_seeds, fingerprint, plant_seeds

from .test_classifier_fast_paths import FEATURE_TEXTS, MESSAGES

# Words whose dictionary readings have different normal forms: the probabilities decide
# («мыла», «лечу», «мели» with ties, where the dictionary order does).
AMBIGUOUS = (
    "стали",
    "мыла",
    "дорогой",
    "лесу",
    "ее",
    "лечу",
    "мели",
    "были",
    "пила",
    "уже",
    "вина",
)
REPO = Path(__file__).resolve().parents[3]


def _corpus_words() -> list[str]:
    words = {tok for row in read_corpus() for tok in normalize_tokens(row.text)[1]}
    words.update(AMBIGUOUS)
    return sorted(w for w in words if w[0] not in "<0123456789" and not w.isascii())


def test_best_normal_form_is_parses_first_normal_form_on_the_whole_corpus() -> None:
    analyzer = morph_analyzer()
    words = _corpus_words()
    assert len(words) > 20_000
    differing = [w for w in words if best_normal_form(w) != analyzer.parse(w)[0].normal_form]
    assert differing == []


def test_ambiguous_words_follow_the_probabilities() -> None:
    analyzer = morph_analyzer()
    for word in AMBIGUOUS:
        forms = {p.normal_form for p in analyzer.parse(word)}
        assert len(forms) > 1, word  # the probability branch really runs
        assert best_normal_form(word) == analyzer.parse(word)[0].normal_form


def test_words_outside_the_dictionary_and_one_letter_words() -> None:
    analyzer = morph_analyzer()
    for word in ("в", "я", "ы", "фывапролд", "электросамокатик", "по-моему", "кое-где"):
        assert best_normal_form(word) == analyzer.parse(word)[0].normal_form
    assert parse_lemma("ёлки") == "елка"


@pytest.fixture()
def empty_rule_caches() -> None:
    quality._TOKEN_COUNTS.clear()
    urgency._TOKEN_FLAGS.clear()


def test_seeds_hold_what_the_rules_compute_on_sight(
    tiny_model: BlockClassifier, empty_rule_caches: None
) -> None:
    seeds, table = tiny_model.rule_seeds, tiny_model.features.table
    assert seeds is not None and table is not None
    tokens = list(table.base_tokens)
    assert len(tokens) > 50 and any(seeds.flags) and seeds.counts[:, 3].any()
    assert plant_seeds(seeds, tokens)
    assert [quality._TOKEN_COUNTS[t] for t in tokens] == [quality.token_counts(t) for t in tokens]
    assert [urgency._TOKEN_FLAGS[t] for t in tokens] == [urgency.token_flags(t) for t in tokens]


def test_packed_counts_survive_the_top_field() -> None:
    token = "-".join(["дорога"] * 20)  # 20 known long words: the top field passes bit 63
    seeds = compute_seeds([token])
    quality._TOKEN_COUNTS.pop(token, None)
    assert plant_seeds(seeds, [token])
    assert quality._TOKEN_COUNTS[token] == quality.token_counts(token) > 2**64


def test_stale_seeds_are_ignored(tiny_model: BlockClassifier, empty_rule_caches: None) -> None:
    seeds, table = tiny_model.rule_seeds, tiny_model.features.table
    assert seeds is not None and table is not None
    stale = dataclasses.replace(seeds, fingerprint="0" * 64)
    assert not plant_seeds(stale, table.base_tokens)
    assert not plant_seeds(seeds, list(table.base_tokens)[1:])  # not this table's tokens
    assert len(quality._TOKEN_COUNTS) == len(urgency._TOKEN_FLAGS) == 0


def test_fingerprint_is_the_same_in_another_process() -> None:
    code = "from classifier.rule_seeds import fingerprint; print(fingerprint())"
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == fingerprint()


def test_predictions_are_the_same_with_and_without_seeds(
    tiny_model: BlockClassifier, tmp_path: Path, empty_rule_caches: None
) -> None:
    texts = [*FEATURE_TEXTS, *MESSAGES]
    plain = BlockClassifier(
        features=tiny_model.features,
        block_head=tiny_model.block_head,
        urgent_head=tiny_model.urgent_head,
        metadata=tiny_model.metadata,
    )
    plain.rule_seeds = None
    expected = plain.predict_many(texts)
    quality._TOKEN_COUNTS.clear()
    urgency._TOKEN_FLAGS.clear()
    path = tmp_path / "model.joblib"
    tiny_model.save(path)
    seeded = BlockClassifier.load(path)
    assert seeded.rule_seeds is not None
    assert seeded.predict_many(texts) == expected
    assert len(quality._TOKEN_COUNTS) > len(tiny_model.features.table.base_tokens)  # type: ignore[union-attr]


def test_a_model_saved_before_the_seeds_still_loads(
    tiny_model: BlockClassifier, tmp_path: Path
) -> None:
    state = tiny_model.__getstate__()
    del state["rule_seeds"]  # what a format-2 artifact holds
    old = object.__new__(BlockClassifier)
    old.__dict__.update(state)
    path = tmp_path / "model.joblib"
    joblib.dump(old, path)
    loaded = BlockClassifier.load(path)
    assert loaded.rule_seeds is None
    assert loaded.predict_many(FEATURE_TEXTS) == tiny_model.predict_many(FEATURE_TEXTS)
