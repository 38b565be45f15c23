"""TF-IDF features: word 1-2-grams on lemmas plus char_wb 2-5-grams on normalised tokens."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from classifier.normalize import lemma, normalize, tokenize


@dataclass(frozen=True)
class Prepared:
    """A message after normalisation: what the vectorizers and the rules read."""

    normalized: str
    tokens_text: str
    lemmas_text: str


def prepare(text: str) -> Prepared:
    """Normalise one raw message for the features."""
    normalized = normalize(text)
    tokens = tokenize(normalized)
    return Prepared(normalized, " ".join(tokens), " ".join([lemma(t) for t in tokens]))


@dataclass
class FeatureConfig:
    """Vectorizer sizes; defaults keep training well under a minute on 2 cores."""

    word_max_features: int = 60_000
    char_max_features: int = 120_000
    char_ngram: tuple[int, int] = (2, 5)
    min_df: int = 2


_WORD_CACHE_MAX = 300_000


def char_wb_ngrams(word: str, min_n: int, max_n: int) -> list[str]:
    """The n-grams sklearn's char_wb analyzer yields for one word (same order and rules)."""
    padded = f" {word} "
    out: list[str] = []
    for n in range(min_n, max_n + 1):
        if len(padded) <= n:
            out.append(padded)  # a short word counts once, as in sklearn
            break
        out.extend(padded[i : i + n] for i in range(len(padded) - n + 1))
    return out


def _sublinear_tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """TfidfTransformer(sublinear_tf=True, norm="l2") on summed counts, in place."""
    np.log(counts.data, out=counts.data)
    counts.data += 1.0
    counts.data *= idf[counts.indices]
    lengths = np.diff(counts.indptr)
    rows = np.repeat(np.arange(counts.shape[0]), lengths)
    norms = np.sqrt(np.bincount(rows, weights=counts.data * counts.data, minlength=counts.shape[0]))
    norms[norms == 0] = 1.0
    counts.data /= np.repeat(norms, lengths).astype(np.float32)
    return counts


class TextFeatures:
    """Two TF-IDF vectorizers stacked side by side."""

    def __init__(self, config: FeatureConfig | None = None) -> None:
        cfg = config or FeatureConfig()
        self.config = cfg
        self._char_cache: dict[str, tuple[int, ...]] = {}
        self.word = TfidfVectorizer(
            token_pattern=r"\S+",
            lowercase=False,
            ngram_range=(1, 2),
            min_df=cfg.min_df,
            max_features=cfg.word_max_features,
            sublinear_tf=True,
            dtype=np.float32,
        )
        self.char = TfidfVectorizer(
            analyzer="char_wb",
            lowercase=False,
            ngram_range=cfg.char_ngram,
            min_df=cfg.min_df,
            max_features=cfg.char_max_features,
            sublinear_tf=True,
            dtype=np.float32,
        )

    def fit_transform(self, docs: Sequence[Prepared]) -> sp.csr_matrix:
        """Fit both vectorizers and return the stacked matrix."""
        words = self.word.fit_transform([d.lemmas_text for d in docs])
        chars = self.char.fit_transform([d.tokens_text for d in docs])
        # stop_words_ holds every pruned n-gram: useless after fit and huge in the pickle.
        for vec in (self.word, self.char):
            if hasattr(vec, "stop_words_"):
                delattr(vec, "stop_words_")
        return sp.hstack([words, chars], format="csr")

    def transform(self, docs: Sequence[Prepared]) -> sp.csr_matrix:
        """Stacked features of already prepared messages."""
        return sp.hstack(self.transform_parts(docs), format="csr")

    def transform_parts(self, docs: Sequence[Prepared]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Word and char feature blocks, in the column order of transform()."""
        words = self.word_transform([d.lemmas_text for d in docs])
        return words, self.char_transform([d.tokens_text for d in docs])

    @property
    def n_word_features(self) -> int:
        """Width of the word block (the char block follows it)."""
        return len(self.word.vocabulary_)

    def word_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Same result as self.word.transform without sklearn's per-call validation.

        That validation costs ~0.4 ms a call, most of the latency of a single message.
        """
        vocab = self.word.vocabulary_
        indices: list[int] = []
        indptr = [0]
        for text in texts:
            tokens = text.split()
            bigrams = [f"{a} {b}" for a, b in pairwise(tokens)]
            indices.extend(i for g in (*tokens, *bigrams) if (i := vocab.get(g)) is not None)
            indptr.append(len(indices))
        counts = sp.csr_matrix(
            (np.ones(len(indices), dtype=np.float32), np.asarray(indices, dtype=np.int32), indptr),
            shape=(len(texts), len(vocab)),
        )
        counts.sum_duplicates()
        return _sublinear_tfidf(counts, self._idf("word"))

    def _word_indices(self, word: str) -> tuple[int, ...]:
        vocab = self.char.vocabulary_
        lo, hi = self.config.char_ngram
        return tuple(i for g in char_wb_ngrams(word, lo, hi) if (i := vocab.get(g)) is not None)

    def char_transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Same result as self.char.transform, computed as (doc x word) @ (word x n-gram).

        sklearn's char analyzer is pure Python and was 70% of prediction time; char_wb
        n-grams never cross a word boundary, so per-word n-gram ids can be cached exactly.
        """
        cache = self._char_cache
        if len(cache) > _WORD_CACHE_MAX:
            cache.clear()
        local: dict[str, int] = {}
        cols: list[int] = []
        indptr = [0]
        for text in texts:
            for word in text.split():
                cols.append(local.setdefault(word, len(local)))
            indptr.append(len(cols))
        words_by_doc = sp.csr_matrix(
            (np.ones(len(cols), dtype=np.float32), np.asarray(cols, dtype=np.int32), indptr),
            shape=(len(texts), len(local)),
        )
        counts = (words_by_doc @ self._ngram_matrix(list(local), cache)).tocsr()
        return _sublinear_tfidf(counts, self._idf("char"))

    def _ngram_matrix(self, words: list[str], cache: dict[str, tuple[int, ...]]) -> sp.csr_matrix:
        indices: list[int] = []
        indptr = [0]
        for word in words:
            ids = cache.get(word)
            if ids is None:
                ids = cache[word] = self._word_indices(word)
            indices.extend(ids)
            indptr.append(len(indices))
        data = np.ones(len(indices), dtype=np.float32)
        shape = (len(words), len(self.char.vocabulary_))
        return sp.csr_matrix((data, np.asarray(indices, dtype=np.int32), indptr), shape=shape)

    def _idf(self, which: str) -> np.ndarray:
        key = f"_idf32_{which}"
        idf = self.__dict__.get(key)
        if idf is None:
            vec = self.word if which == "word" else self.char
            idf = self.__dict__[key] = vec.idf_.astype(np.float32)
        return idf

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state["_char_cache"] = {}  # rebuilt lazily; not worth pickling
        for key in ("_idf32_word", "_idf32_char"):
            state.pop(key, None)
        # joblib unpickles with the pure-Python Unpickler: ~0.5 s for the two 50k-entry
        # vocabularies. One bytes blob for the C unpickler loads them in ~0.05 s.
        state["_vectorizers"] = pickle.dumps((state.pop("word"), state.pop("char")), protocol=5)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        blob = state.pop("_vectorizers", None)
        self.__dict__.update(state)
        if isinstance(blob, bytes):
            self.word, self.char = pickle.loads(blob)
