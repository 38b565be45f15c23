"""The fast prediction paths give exactly what the plain ones give.

Prediction skips regex passes behind cheap guards, reads features through a per-token table
and adds up per-token counts for the text checks; each shortcut is compared here with the
straightforward computation it replaces, on messages built to hit the edge cases.
"""

from __future__ import annotations

import copyreg
import pickle
import random
import re
import threading
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier import normalize as norm
from classifier import token_table
from classifier.char_grams import CharGramIndex, char_wb_ngrams
from classifier.features import STATE_FORMAT, FeatureConfig, TextFeatures, prepare
from classifier.model import BlockClassifier
from classifier.quality import check_text
from classifier.urgency import urgent_rules

from .conftest import TINY_EXAMPLES

_WORDS = (
    "щас ща че ваще помойму ооочень нееет ааа 111 2024 5 по-моему кое-где "
    "яма на дороге нет воды третий день света отопления в доме горит дерево "
    "упало провод оборван сосульки холодно батареи пожар ул. Ленина д. 15"
)
PIECES = [
    *_WORDS.split(" "),
    *("   ", "\t", "\xa0", "\r\n", "\n\n", " ", "  ", "-", "—", "–", ",", ".", "!", "?", "_"),
    *("&nbsp;", "&amp;", "<br>", "<p>", "<b>жирный</b>", "&#1;", "&#xd800;"),
    *("[club123|Администрация]", "[id1|Иван]", "http://x.ru/a?b=1", "www.test.com"),
    *("mail@x.ru", "+7 (900) 123-45-67", "8 900 1234567", "12-34-56", "89001234567"),
    *("7 495 123 45 67", "😀", "🔥🔥", "#нетводы", "#ЖКХ_Курск", "#МойГород", "Пожар"),
    *("pомонт", "KАМАЗ", "ё", "Ё", "\x00", "\x07", "\ufeff", "\u200b", "\ud800"),
    *("Хӑвӑр", "қазақ", "hello", "a", "я", "ъ", "<url>", "<phone>", "٣٤", "²", "ß", "ǅ"),
]


def _messages(count: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    joints = ["", " ", " ", "  "]
    glued = [
        "".join(rnd.choice(PIECES) + rnd.choice(joints) for _ in range(rnd.randint(0, 25)))
        for _ in range(count)
    ]
    chars = "".join(PIECES)
    scrambled = ["".join(rnd.choices(chars, k=rnd.randint(0, 40))) for _ in range(count)]
    # Past 600 characters and 40 long words the text checks read only the beginning.
    long = [" ".join(rnd.choices(PIECES, k=rnd.randint(150, 400))) for _ in range(count // 20)]
    return glued + scrambled + long


MESSAGES = _messages(1500, seed=7)

# The regexes as they were before the guards and rewrites, applied without shortcuts.
PLAIN_PHONE = re.compile(
    r"(?<![\w])(?:\+7|8|7)[\s\-–(]*\d{3,5}[\s\-–)]*\d{1,3}[\s\-–]*\d{2}[\s\-–]*\d{2}(?![\w])"
    r"|(?<![\w.,/-])\d{2,3}-\d{2}-\d{2}(?![\w-])"
)


def _plain_normalize(text: str) -> str:
    text = norm._SURROGATES.sub("", text[: norm.MAX_CHARS])
    if "<" in text:
        text = norm._HTML_TAG.sub(" ", norm._HTML_BREAK.sub("\n", text))
    if "&" in text:
        text = norm.html.unescape(text)
    text = norm._CONTROL.sub(" ", text)
    text = norm._VK_MENTION.sub(r"\1", text)
    text = norm._SPACES.sub(" ", text)
    text = norm._NEWLINES.sub("\n", text).strip()
    if "@" in text:
        text = norm._EMAIL.sub(f" {norm.EMAIL_TOKEN} ", text)
    if any(hint in text.lower() for hint in norm._URL_HINTS):
        text = norm._URL.sub(f" {norm.URL_TOKEN} ", text)
    text = PLAIN_PHONE.sub(f" {norm.PHONE_TOKEN} ", text)
    text = norm._EMOJI.sub(" ", text)
    text = norm._HASHTAG.sub(norm._hashtag_words, text)
    text = norm.fix_lookalikes(text)
    text = norm._STRETCH.sub(r"\1", text.lower().replace("ё", "е"))
    text = norm._TYPO.sub(lambda m: norm.TYPOS[m.group(0)], text)
    return norm._SPACES.sub(" ", text).strip()


def test_phone_regex_matches_its_plain_form() -> None:
    rnd = random.Random(5)
    alphabet = [*"0123456789" * 4, *"+-–() .,/_\n\tаяzZ7788", "8 (900) 123-45-67", "+7 ", "٣"]
    samples = ["".join(rnd.choices(alphabet, k=rnd.randint(0, 30))) for _ in range(20_000)]
    masked = [PLAIN_PHONE.sub("<p>", s) for s in samples]
    assert sum("<p>" in m for m in masked) > 1000  # the samples do hold phones
    assert [norm._PHONE.sub("<p>", s) for s in samples] == masked


def test_normalize_matches_the_plain_pipeline() -> None:
    for text in MESSAGES:
        normalized, tokens = norm.normalize_tokens(text)
        assert normalized == _plain_normalize(text), repr(text)
        assert norm.normalize(text) == normalized
        assert tokens == norm.tokenize(normalized), repr(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_normalize_matches_the_plain_pipeline_on_any_text(text: str) -> None:
    normalized, tokens = norm.normalize_tokens(text)
    assert normalized == _plain_normalize(text)
    assert tokens == norm.tokenize(normalized)


def test_text_checks_from_tokens_match_the_character_checks() -> None:
    outcomes: set[tuple[str, ...]] = set()
    for text in MESSAGES:
        normalized, tokens = norm.normalize_tokens(text)
        assert check_text(normalized, tokens) == check_text(normalized), repr(text)
        assert urgent_rules(normalized, tokens) == urgent_rules(normalized), repr(text)
        outcomes.add(tuple(check_text(normalized)))
    assert outcomes == {(), ("empty_text",), ("junk_text",), ("non_russian",)}


def test_known_word_shortcut_keeps_yo_tolerance() -> None:
    analyzer = norm.morph_analyzer()
    for word in ("еж", "ежик", "елка", "дорога", "фывапролд", "щас"):
        norm.is_known_word.cache_clear()
        assert norm.is_known_word(word) == analyzer.word_is_known(word)
    assert norm.is_known_word("еж")  # known only as «ёж»


@pytest.mark.parametrize("ngram_range", [(2, 5), (1, 3), (4, 6), (2, 40)])
def test_char_gram_index_matches_char_wb(ngram_range: tuple[int, int]) -> None:
    rnd = random.Random(11)
    letters = "абвгдежзийклмнопрстуфхцчшщъыьэюяabcxyz-0123٣<>"
    words = ["".join(rnd.choices(letters, k=rnd.randint(1, 12))) for _ in range(400)]
    words += ["<url>", "в", "ab", "٣٤٥", "по-моему"]
    vocabulary: dict[str, int] = {}
    for word in words[::2]:  # half of the words lend their n-grams to the vocabulary
        for gram in char_wb_ngrams(word, *ngram_range):
            vocabulary.setdefault(gram, len(vocabulary))
    index = CharGramIndex(vocabulary, ngram_range)
    assert index.vectorised == (ngram_range != (2, 40))
    indptr, indices = index.columns(words)
    for i, word in enumerate(words):
        expected = [vocabulary[g] for g in char_wb_ngrams(word, *ngram_range) if g in vocabulary]
        assert sorted(indices[indptr[i] : indptr[i + 1]].tolist()) == sorted(expected), word


FEATURE_TEXTS = [
    "огромная яма на дороге возле школы",
    "нет отопления, в квартире холодно",
    "совершенно новые незнакомые слова: электросамокат, газораспределительная",
    "",
    "яма яма яма на дороге дороге",
    "<url> звоните <phone> 2024 по-моему ооочень",
    "abc латиница qwerty ٣٤",
]


def _assert_same_as_sklearn(features: TextFeatures, texts: list[str]) -> None:
    docs = [prepare(t) for t in texts]
    words, chars = features.transform_parts(docs)
    expected_words = features.word.transform([d.lemmas_text for d in docs])
    expected_chars = features.char.transform([d.tokens_text for d in docs])
    assert words.toarray() == pytest.approx(expected_words.toarray(), abs=1e-6)
    assert chars.toarray() == pytest.approx(expected_chars.toarray(), abs=1e-6)


def test_token_table_ships_training_tokens_and_learns_new_ones(
    tiny_model: BlockClassifier,
) -> None:
    table = tiny_model.features.table
    assert table is not None
    assert table.n_base_rows > 50  # the training vocabulary
    _assert_same_as_sklearn(tiny_model.features, FEATURE_TEXTS)
    for text in FEATURE_TEXTS:  # one at a time, the way single predictions come
        _assert_same_as_sklearn(tiny_model.features, [text])


def test_token_table_forgets_extra_rows_and_stays_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(token_table, "MAX_EXTRA_ROWS", 3)
    features = TextFeatures(FeatureConfig(min_df=1))
    features.fit_transform([prepare(t) for t, _ in TINY_EXAMPLES])
    table = features.table
    assert table is not None
    _assert_same_as_sklearn(features, FEATURE_TEXTS)
    assert len(table._index) - table.n_base_rows > 3  # remembered past the bound ...
    last = ["неведомое слово"]
    _assert_same_as_sklearn(features, last)
    assert len(table._index) - table.n_base_rows == 2  # ... and forgotten at the next batch
    _assert_same_as_sklearn(features, FEATURE_TEXTS)


def test_concurrent_predictions_match_sequential_ones(
    tiny_model: BlockClassifier, tiny_model_path: Path
) -> None:
    texts = [f"{t} слово{i} новость{i * 7}" for i, t in enumerate(FEATURE_TEXTS * 30)]
    fresh = BlockClassifier.load(tiny_model_path)  # its table knows none of the new tokens
    results: dict[int, list[Any]] = {}

    def work(part: int) -> None:
        results[part] = [p for t in texts[part::4] for p in fresh.predict_many([t, t + " ещё"])]

    threads = [threading.Thread(target=work, args=(part,)) for part in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for part in range(4):
        expected = [p for t in texts[part::4] for p in tiny_model.predict_many([t, t + " ещё"])]
        assert results[part] == expected


class _Format1Features:
    """Pickles as a TextFeatures written before the token table existed."""

    def __init__(self, features: TextFeatures) -> None:
        state = features.__getstate__()
        word, char = features.word, features.char
        for key in ("_vectorizers", "_format", "bigrams", "char_grams", "table"):
            state.pop(key, None)
        state["_vectorizers"] = pickle.dumps((word, char), protocol=5)
        state["_char_cache"] = {}
        self.state = state

    def __reduce__(self) -> tuple[Any, ...]:
        return (copyreg._reconstructor, (TextFeatures, object, None), self.state)  # type: ignore[attr-defined]


def test_a_model_saved_before_the_token_table_still_loads(
    tiny_model: BlockClassifier, tmp_path: Path
) -> None:
    old = BlockClassifier(
        features=_Format1Features(tiny_model.features),  # type: ignore[arg-type]
        block_head=tiny_model.block_head,
        urgent_head=tiny_model.urgent_head,
        metadata=tiny_model.metadata,
    )
    path = tmp_path / "model.joblib"
    joblib.dump(old, path)
    loaded = BlockClassifier.load(path)
    assert loaded.features.table is not None and loaded.features.table.n_base_rows == 0
    assert loaded.predict_many(FEATURE_TEXTS) == tiny_model.predict_many(FEATURE_TEXTS)
    # Saving it again writes the current format.
    assert loaded.features.__getstate__()["_format"] == STATE_FORMAT


def test_saved_model_keeps_its_token_table(tiny_model: BlockClassifier, tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    tiny_model.save(path)
    loaded = BlockClassifier.load(path)
    assert loaded.features.table is not None and tiny_model.features.table is not None
    assert loaded.features.table.n_base_rows == tiny_model.features.table.n_base_rows
    assert np.array_equal(
        loaded.features.table.__getstate__()["char_indices"],  # type: ignore[arg-type]
        tiny_model.features.table.__getstate__()["char_indices"],  # type: ignore[arg-type]
    )
    _assert_same_as_sklearn(loaded.features, FEATURE_TEXTS)
