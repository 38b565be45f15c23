"""Near-duplicate detection: MinHash over character shingles with LSH banding."""

from __future__ import annotations

import zlib
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

SHINGLE = 5
NUM_PERM = 64
BANDS = 8  # 8 bands x 8 rows: P(candidate) ≈ 0.99 at Jaccard 0.9, ≈ 0.03 at 0.5
_PRIME = np.uint64((1 << 31) - 1)
_FULL_PAIRS_MAX = 50


def shingles(text: str, *, k: int = SHINGLE) -> frozenset[int]:
    """Hashed character k-grams of a text (the whole text when it is shorter than k)."""
    if len(text) <= k:
        return frozenset({zlib.crc32(text.encode("utf-8"))})
    return frozenset(zlib.crc32(text[i : i + k].encode("utf-8")) for i in range(len(text) - k + 1))


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    """Jaccard similarity of two shingle sets."""
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def signatures(sets: Sequence[frozenset[int]], *, seed: int = 13) -> np.ndarray:
    """MinHash signatures, one row of NUM_PERM values per set."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, int(_PRIME), size=NUM_PERM, dtype=np.uint64)
    b = rng.integers(0, int(_PRIME), size=NUM_PERM, dtype=np.uint64)
    out = np.empty((len(sets), NUM_PERM), dtype=np.uint64)
    for i, s in enumerate(sets):
        x = np.fromiter(s, dtype=np.uint64, count=len(s)) % _PRIME
        # a < 2**31 and x < 2**31, so a*x + b stays far below 2**64.
        out[i] = ((a[:, None] * x[None, :] + b[:, None]) % _PRIME).min(axis=1)
    return out


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        # The lower index wins, so callers control which copy survives by ordering.
        if ri != rj:
            self.parent[max(ri, rj)] = min(ri, rj)


def _candidate_buckets(sig: np.ndarray) -> list[list[int]]:
    rows = NUM_PERM // BANDS
    buckets: dict[tuple[int, bytes], list[int]] = defaultdict(list)
    for i in range(sig.shape[0]):
        for band in range(BANDS):
            buckets[(band, sig[i, band * rows : (band + 1) * rows].tobytes())].append(i)
    return [members for members in buckets.values() if len(members) > 1]


def near_duplicate_groups(
    texts: Sequence[str], *, threshold: float = 0.9, seed: int = 13
) -> list[int]:
    """For each text, the index of the first text it near-duplicates (itself if none)."""
    sets = [shingles(t) for t in texts]
    uf = _UnionFind(len(texts))
    for members in _candidate_buckets(signatures(sets, seed=seed)):
        # Big buckets are compared with their first member only, to stay near-linear.
        pairs = (
            [(i, j) for n, i in enumerate(members) for j in members[n + 1 :]]
            if len(members) <= _FULL_PAIRS_MAX
            else [(members[0], j) for j in members[1:]]
        )
        for i, j in pairs:
            if uf.find(i) != uf.find(j) and jaccard(sets[i], sets[j]) >= threshold:
                uf.union(i, j)
    return [uf.find(i) for i in range(len(texts))]
