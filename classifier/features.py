"""TF-IDF features: word 1-2-grams on lemmas plus char_wb 2-5-grams on normalised tokens.

Training fits sklearn's vectorizers on strings; prediction reads the fitted vocabularies
through a table of per-token ids (classifier/token_table.py) and yields the same matrices.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from classifier.char_grams import CharGramIndex
from classifier.normalize import lemma, normalize, parse_lemma, tokenize
from classifier.token_table import TableView, TokenRows, TokenTable

# Version of the pickled state; 1 (no token table) still loads and builds an empty table.
STATE_FORMAT = 2


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


def _sublinear_tfidf(counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
    """TfidfTransformer(sublinear_tf=True, norm="l2") on summed counts, in place."""
    data = counts.data
    np.log(data, out=data)
    data += 1.0
    data *= idf[counts.indices]
    lengths = np.diff(counts.indptr)
    filled = np.flatnonzero(lengths)  # reduceat needs non-empty segments
    squares = np.zeros(counts.shape[0])
    if len(filled):
        squares[filled] = np.add.reduceat(np.square(data, dtype=np.float64), counts.indptr[filled])
    norms = np.sqrt(squares)
    norms[norms == 0] = 1.0
    data /= np.repeat(norms.astype(np.float32), lengths)
    return counts


class BigramIndex:
    """Word-block columns of lemma bigrams, keyed by the ids of their two halves."""

    def __init__(self, vocabulary: Mapping[str, int]) -> None:
        pairs = [(gram.split(" "), col) for gram, col in vocabulary.items() if " " in gram]
        halves = sorted({half for (first, second), _ in pairs for half in (first, second)})
        self.halves: dict[str, int] = {h: i for i, h in enumerate(halves)}
        keys = np.array(
            [self.halves[a] * len(halves) + self.halves[b] for (a, b), _ in pairs], dtype=np.int64
        )
        order = np.argsort(keys)
        self._keys = keys[order]
        self._columns = np.array([col for _, col in pairs], dtype=np.int32)[order]

    def columns(self, first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions (into first/second) of known bigrams and their columns."""
        keys = first.astype(np.int64) * len(self.halves) + second
        found = np.searchsorted(self._keys, keys)
        found[found == len(self._keys)] = 0
        hit = np.flatnonzero(self._keys[found] == keys) if len(self._keys) else found[:0]
        return hit, self._columns[found[hit]]


class TextFeatures:
    """Two TF-IDF vectorizers stacked side by side."""

    def __init__(self, config: FeatureConfig | None = None) -> None:
        cfg = config or FeatureConfig()
        self.config = cfg
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
        self.bigrams: BigramIndex | None = None
        self.char_grams: CharGramIndex | None = None
        self.table: TokenTable | None = None

    def fit_transform(self, docs: Sequence[Prepared]) -> sp.csr_matrix:
        """Fit both vectorizers, index their vocabularies and return the stacked matrix."""
        words = self.word.fit_transform([d.lemmas_text for d in docs])
        chars = self.char.fit_transform([d.tokens_text for d in docs])
        # stop_words_ holds every pruned n-gram: useless after fit and huge in the pickle.
        for vec in (self.word, self.char):
            if hasattr(vec, "stop_words_"):
                delattr(vec, "stop_words_")
        self._index_vocabularies()
        self._index_training_tokens(docs)
        return sp.hstack([words, chars], format="csr")

    def _index_vocabularies(self) -> None:
        self.bigrams = BigramIndex(self.word.vocabulary_)
        self.char_grams = CharGramIndex(self.char.vocabulary_, self.config.char_ngram)

    def _index_training_tokens(self, docs: Sequence[Prepared]) -> None:
        # The lemmas the model was fitted on, token by token: shipped so that serving runs
        # pymorphy3 only for tokens the training texts did not have.
        lemma_of: dict[str, str] = {}
        for doc in docs:
            tokens, lemmas = doc.tokens_text.split(), doc.lemmas_text.split()
            if len(tokens) == len(lemmas):  # a lemma never holds a space; skip if one did
                lemma_of.update(zip(tokens, lemmas, strict=True))
        tokens = sorted(lemma_of)
        rows = self._token_rows(tokens, [lemma_of[t] for t in tokens])
        self.table = TokenTable(tokens, rows, n_char_features=len(self.char.vocabulary_))

    def _token_rows(self, tokens: Sequence[str], lemmas: Sequence[str]) -> TokenRows:
        assert self.bigrams is not None and self.char_grams is not None
        word_get, half_get = self.word.vocabulary_.get, self.bigrams.halves.get
        char_indptr, char_indices = self.char_grams.columns(tokens)
        return TokenRows(
            np.array([word_get(lem, -1) for lem in lemmas], dtype=np.int32),
            np.array([half_get(lem, -1) for lem in lemmas], dtype=np.int32),
            char_indptr,
            char_indices,
        )

    def _describe(self, tokens: Sequence[str]) -> TokenRows:
        return self._token_rows(tokens, [parse_lemma(t) for t in tokens])

    @property
    def n_word_features(self) -> int:
        """Width of the word block (the char block follows it)."""
        return len(self.word.vocabulary_)

    def transform(self, docs: Sequence[Prepared]) -> sp.csr_matrix:
        """Stacked features of already prepared messages."""
        return sp.hstack(self.transform_parts(docs), format="csr")

    def transform_parts(self, docs: Sequence[Prepared]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Word and char feature blocks of prepared messages."""
        return self.transform_tokens([d.tokens_text.split() for d in docs])

    def transform_tokens(
        self, token_lists: Sequence[Sequence[str]]
    ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """Word and char blocks of tokenised messages, equal to the fitted vectorizers' output.

        sklearn's analyzers are pure Python per n-gram; here a batch costs one dict lookup
        per token plus sparse products: (message x token) @ (token x char n-gram).
        """
        assert self.table is not None and self.bigrams is not None
        n_docs = len(token_lists)
        lengths = np.fromiter(map(len, token_lists), dtype=np.int32, count=n_docs)
        indptr = np.zeros(n_docs + 1, dtype=np.int32)
        np.cumsum(lengths, out=indptr[1:])
        view = self.table.lookup(list(chain.from_iterable(token_lists)), self._describe)
        tokens_by_doc = sp.csr_matrix(
            (np.ones(len(view.rows), dtype=np.float32), view.rows, indptr),
            shape=(n_docs, view.chars.shape[0]),
        )
        chars = (tokens_by_doc @ view.chars).tocsr()
        doc_of_token = np.repeat(np.arange(n_docs, dtype=np.int32), lengths)
        words = self._word_counts(view, doc_of_token, n_docs)
        word_block = _sublinear_tfidf(words, self._idf("word"))
        return word_block, _sublinear_tfidf(chars, self._idf("char"))

    def _word_counts(self, view: TableView, doc_of_token: np.ndarray, n_docs: int) -> sp.csr_matrix:
        assert self.bigrams is not None
        unigram = view.unigram[view.rows]
        known = unigram >= 0
        docs, columns = [doc_of_token[known]], [unigram[known]]
        half = view.half[view.rows]
        first, second = half[:-1], half[1:]
        # Neighbours within one message whose lemmas both start or end some known bigram.
        same_doc = doc_of_token[:-1] == doc_of_token[1:]
        pair = np.flatnonzero((first >= 0) & (second >= 0) & same_doc)
        if len(pair):
            hit, bigram_columns = self.bigrams.columns(first[pair], second[pair])
            docs.append(doc_of_token[pair[hit]])
            columns.append(bigram_columns)
        rows, cols = np.concatenate(docs), np.concatenate(columns)
        return sp.csr_matrix(
            (np.ones(len(rows), dtype=np.float32), (rows, cols)),
            shape=(n_docs, self.n_word_features),
        )

    def _idf(self, which: str) -> np.ndarray:
        key = f"_idf32_{which}"
        idf = self.__dict__.get(key)
        if idf is None:
            vec = self.word if which == "word" else self.char
            idf = self.__dict__[key] = vec.idf_.astype(np.float32)
        return idf

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        for key in ("_idf32_word", "_idf32_char"):
            state.pop(key, None)
        # joblib unpickles with the pure-Python Unpickler: ~0.5 s for the two 50k-entry
        # vocabularies. One bytes blob for the C unpickler loads them in ~0.05 s; the token
        # table and bigram index (dicts of 30k strings, big int arrays) go in it too.
        blob = tuple(state.pop(key) for key in ("word", "char", "bigrams", "char_grams", "table"))
        state["_vectorizers"] = pickle.dumps(blob, protocol=5)
        state["_format"] = STATE_FORMAT
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        blob = state.pop("_vectorizers", None)
        fmt = state.pop("_format", 1)
        state.pop("_char_cache", None)  # format 1 kept a per-word cache here
        self.__dict__.update(state)
        if isinstance(blob, bytes):
            parts = pickle.loads(blob)
            self.word, self.char = parts[0], parts[1]
        if fmt == 1:
            # Written before the token table existed: same features, only every token is
            # lemmatised on first sight. `mcu classifier train` writes the current format.
            self._index_vocabularies()
            self.table = TokenTable.empty(n_char_features=len(self.char.vocabulary_))
        else:
            self.bigrams, self.char_grams, self.table = parts[2:5]
