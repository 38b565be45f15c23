"""Feature ids per distinct token, so a batch is vectorised by numpy instead of per n-gram.

Both TF-IDF blocks are functions of single tokens: a word feature is the lemma of one token
or the lemmas of two neighbours, a char_wb n-gram never crosses a word boundary. A row of
this table holds what one token contributes (its lemma's unigram id, its lemma's id among
the bigram halves, its char n-gram ids); a batch then needs one dict lookup per token and a
handful of array operations. Rows of the training vocabulary ship in the model artifact,
computed while training with the same lemmas the model was fitted on, so pymorphy3 only
runs for tokens the training texts never had.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

# Tokens seen after training are remembered up to this many (~40 MB), then forgotten at once.
MAX_EXTRA_ROWS = 200_000


@dataclass(frozen=True)
class TokenRows:
    """What each of a run of tokens contributes to the features, as int32 arrays."""

    unigram: np.ndarray  # column of the token's lemma in the word block, -1 if none
    half: np.ndarray  # id of the lemma among the halves of word bigrams, -1 if none
    char_indptr: np.ndarray  # CSR over the tokens (starts at 0) ...
    char_indices: np.ndarray  # ... of their char n-gram columns, repeats kept


Describe = Callable[[Sequence[str]], TokenRows]


class _Ints:
    """A numpy integer array with amortised O(1) appends and cheap truncation."""

    def __init__(self, initial: np.ndarray, dtype: type[np.integer]) -> None:
        self._data = np.array(initial, dtype=dtype)
        self.size = len(self._data)

    def extend(self, values: Sequence[int] | np.ndarray) -> None:
        need = self.size + len(values)
        if need > len(self._data):
            grown = np.empty(max(need, 2 * len(self._data), 1024), dtype=self._data.dtype)
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : need] = values
        self.size = need

    @property
    def view(self) -> np.ndarray:
        return self._data[: self.size]


class _Index(dict[str, int]):
    """Token → row; a missing token gets the next row and is queued for describing."""

    def __init__(self, tokens: Sequence[str]) -> None:
        super().__init__(zip(tokens, range(len(tokens)), strict=True))
        self.pending: list[str] = []

    def __missing__(self, token: str) -> int:
        row = self[token] = len(self)
        self.pending.append(token)
        return row


class TokenTable:
    """Rows of feature ids for the training vocabulary plus tokens met since (bounded)."""

    def __init__(self, tokens: Sequence[str], rows: TokenRows, *, n_char_features: int) -> None:
        if not len(tokens) == len(rows.unigram) == len(rows.half) == len(rows.char_indptr) - 1:
            raise ValueError("one row per token is needed")
        self._restore(
            {
                "tokens": list(tokens),
                "unigram": rows.unigram,
                "half": rows.half,
                "char_indptr": rows.char_indptr,
                "char_indices": rows.char_indices,
                "n_char_features": n_char_features,
            }
        )

    @classmethod
    def empty(cls, *, n_char_features: int) -> TokenTable:
        """A table without shipped rows: every token is described on first sight."""
        none = np.zeros(0, dtype=np.int32)
        rows = TokenRows(none, none, np.zeros(1, dtype=np.int32), none)
        return cls([], rows, n_char_features=n_char_features)

    def _restore(self, state: dict[str, object]) -> None:
        self._base = state
        self._base_tokens: list[str] = state["tokens"]  # type: ignore[assignment]
        self._base_rows = len(self._base_tokens)
        self.n_char_features = int(state["n_char_features"])  # type: ignore[call-overload]
        self._lock = threading.Lock()
        self._start_from_base()

    def _start_from_base(self) -> None:
        # Fresh buffers, never truncation in place: a batch still reading the old arrays
        # (another thread) must not see its rows overwritten.
        base = self._base
        self._unigram = _Ints(base["unigram"], np.int32)  # type: ignore[arg-type]
        self._half = _Ints(base["half"], np.int32)  # type: ignore[arg-type]
        # int32 like scipy's own index arrays: int64 ones are scanned and copied per matrix.
        self._char_indptr = _Ints(base["char_indptr"], np.int32)  # type: ignore[arg-type]
        self._char_indices = _Ints(base["char_indices"], np.int32)  # type: ignore[arg-type]
        self._ones = np.ones(0, dtype=np.float32)
        self._index = _Index(self._base_tokens)
        self._matrix: sp.csr_matrix | None = None  # built when rows change, not per batch

    @property
    def n_base_rows(self) -> int:
        """Rows shipped with the model (the training vocabulary)."""
        return self._base_rows

    @property
    def base_tokens(self) -> Sequence[str]:
        """The tokens of the shipped rows, in row order."""
        return self._base_tokens

    def lookup(self, tokens: Sequence[str], describe: Describe) -> TableView:
        """Row of every token (new tokens are described and added) and the arrays to read."""
        with self._lock:
            if len(self._index) - self._base_rows > MAX_EXTRA_ROWS:
                self._start_from_base()
            index = self._index
            rows = np.fromiter(map(index.__getitem__, tokens), dtype=np.int32, count=len(tokens))
            if index.pending:
                pending, index.pending = index.pending, []
                try:
                    self._append(describe(pending), len(pending))
                except BaseException:
                    self._start_from_base()  # rows without ids must not stay in the index
                    raise
            return TableView(
                rows,
                self._unigram.view,
                self._half.view,
                self._char_matrix(),
            )

    def _append(self, rows: TokenRows, count: int) -> None:
        if not count == len(rows.unigram) == len(rows.half) == len(rows.char_indptr) - 1:
            raise ValueError("one row per token is needed")
        self._char_indptr.extend(rows.char_indptr[1:] + self._char_indices.size)
        self._char_indices.extend(rows.char_indices)
        self._unigram.extend(rows.unigram)
        self._half.extend(rows.half)

    def _char_matrix(self) -> sp.csr_matrix:
        if self._matrix is not None and self._matrix.shape[0] == self._unigram.size:
            return self._matrix
        indices = self._char_indices.view
        if len(self._ones) < len(indices):
            # The data array is all ones; kept between batches, allocated when it grows.
            self._ones = np.ones(2 * len(indices), dtype=np.float32)
        data = self._ones[: len(indices)]
        shape = (self._unigram.size, self.n_char_features)
        self._matrix = sp.csr_matrix((data, indices, self._char_indptr.view), shape=shape)
        return self._matrix

    def __getstate__(self) -> dict[str, object]:
        # Only the training vocabulary is saved: rows met while serving are a cache.
        return self._base

    def __setstate__(self, state: dict[str, object]) -> None:
        self._restore(state)


@dataclass(frozen=True)
class TableView:
    """Rows of a batch's tokens and a consistent snapshot of the table arrays."""

    rows: np.ndarray
    unigram: np.ndarray
    half: np.ndarray
    chars: sp.csr_matrix
