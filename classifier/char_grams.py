"""char_wb n-gram columns of many words at once: n-grams as integers, looked up with numpy.

sklearn's char_wb analyzer pads each word with one space and takes every substring of
length lo..hi (a word shorter than hi yields itself, padded, once). Building those strings
in Python costs ~0.2 µs per n-gram; here every character gets a small code, an n-gram is a
base-B number of its codes, and one sorted array of the vocabulary's numbers answers all
lookups of a batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

# n-gram numbers are int64; B ** hi must stay below this for the codes to be unambiguous.
_MAX_KEY = 2**62


def char_wb_ngrams(word: str, min_n: int, max_n: int) -> list[str]:
    """The n-grams sklearn's char_wb analyzer yields for one word (same order and rules)."""
    padded = f" {word} "
    out: list[str] = []
    for n in range(min_n, max_n + 1):
        if len(padded) <= n:
            out.append(padded)  # a short word counts once, as in sklearn
            break
        out.extend([padded[i : i + n] for i in range(len(padded) - n + 1)])
    return out


class CharGramIndex:
    """The columns of a fitted char_wb vocabulary, keyed by integer-coded n-grams."""

    def __init__(self, vocabulary: Mapping[str, int], ngram_range: tuple[int, int]) -> None:
        self.lo, self.hi = ngram_range
        self._vocabulary = vocabulary
        alphabet = sorted({ch for gram in vocabulary for ch in gram} | {" "})
        # Codes 1..len(alphabet) for characters the vocabulary has, one more for any other:
        # an n-gram holding that one is in no vocabulary entry, exactly as it should be.
        self._other = len(alphabet) + 1
        self._base = len(alphabet) + 2
        top = max(ord(ch) for ch in alphabet) + 1
        self._codes = np.full(top + 1, self._other, dtype=np.int64)
        self._codes[[ord(ch) for ch in alphabet]] = np.arange(1, len(alphabet) + 1)
        self.vectorised = self._base**self.hi < _MAX_KEY
        if not self.vectorised:
            return
        by_length: dict[int, list[str]] = {}
        for gram in vocabulary:
            by_length.setdefault(len(gram), []).append(gram)
        keys: list[np.ndarray] = []
        columns: list[np.ndarray] = []
        for n, grams in by_length.items():
            codes = self._code_array("".join(grams)).reshape(len(grams), n)
            keys.append(codes @ self._base ** np.arange(n, dtype=np.int64))
            columns.append(np.array([vocabulary[g] for g in grams], dtype=np.int32))
        all_keys = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
        order = np.argsort(all_keys)
        self._keys = all_keys[order]
        self._columns = (np.concatenate(columns) if columns else np.zeros(0, np.int32))[order]

    def _code_array(self, text: str) -> np.ndarray:
        points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        return self._codes[np.minimum(points, len(self._codes) - 1)]

    def columns(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """CSR (indptr, indices) of the n-gram columns of each word, repeats kept."""
        if not self.vectorised:
            return self._columns_one_by_one(words)
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words)) + 2
        starts = np.cumsum(lengths) - lengths
        # Padded words side by side: a window across two of them holds two spaces in a row,
        # which no char_wb n-gram does, so it finds nothing and needs no masking.
        codes = self._code_array("".join([f" {w} " for w in words]))
        positions: list[np.ndarray] = []
        columns: list[np.ndarray] = []
        keys = np.zeros(len(codes), dtype=np.int64)
        for n in range(1, self.hi + 1):
            count = len(codes) - n + 1
            if count <= 0:
                break
            keys = keys[:count] + codes[n - 1 : n - 1 + count] * self._base ** (n - 1)
            if not len(self._keys):
                break
            # Below lo only a whole padded word of exactly that length is an n-gram.
            at = None if n >= self.lo else starts[lengths == n]
            probe = keys if at is None else keys[at]
            found = self._position(probe)
            hit = np.flatnonzero(self._keys[found] == probe)
            positions.append(hit if at is None else at[hit])
            columns.append(self._columns[found[hit]])
        if not positions:
            return np.zeros(len(words) + 1, dtype=np.int32), np.zeros(0, dtype=np.int32)
        word_of = np.searchsorted(starts, np.concatenate(positions), side="right") - 1
        order = np.argsort(word_of, kind="stable")
        indptr = np.zeros(len(words) + 1, dtype=np.int32)
        np.cumsum(np.bincount(word_of, minlength=len(words)), out=indptr[1:])
        return indptr, np.concatenate(columns)[order].astype(np.int32)

    def _position(self, probe: np.ndarray) -> np.ndarray:
        # Searching in probe order keeps the binary searches in cache: 3x faster than
        # searching for the keys as they come, even with the argsort.
        order = np.argsort(probe)
        found = np.empty(len(probe), dtype=np.int64)
        found[order] = np.searchsorted(self._keys, probe[order])
        return np.minimum(found, len(self._keys) - 1)

    def _columns_one_by_one(self, words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        get = self._vocabulary.get
        per_word = [
            [i for i in map(get, char_wb_ngrams(w, self.lo, self.hi)) if i is not None]
            for w in words
        ]
        indptr = np.zeros(len(words) + 1, dtype=np.int32)
        np.cumsum([len(ids) for ids in per_word], out=indptr[1:])
        indices = np.fromiter((i for ids in per_word for i in ids), dtype=np.int32)
        return indptr, indices
