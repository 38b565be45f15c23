"""Per-token values of the text checks and urgency pre-checks, shipped for the training vocabulary.

check_text and urgent_rules add up per-token values (letter and known-word counts, stem
flags) that each process computes on first sight of a token. A model computes them once for
its training vocabulary and ships them, so a fresh process starts with most tokens of real
messages known. The values are pure functions of the token, the rules' definitions and the
pymorphy3 dictionary; a fingerprint of all three travels with them, and shipped values whose
fingerprint differs from the running code's are ignored: the results stay the same, only the
first sight of each token costs what it did before.
"""

from __future__ import annotations

import hashlib
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from classifier import quality, urgency
from classifier.morph import morph_analyzer
from classifier.normalize import is_known_word

# Bump when what the fingerprint below cannot see changes the values (a helper's logic).
SEEDS_VERSION = 1


@dataclass(frozen=True)
class RuleSeeds:
    """quality.token_count_fields and urgency.token_flags of a model's base tokens, in order."""

    fingerprint: str
    counts: np.ndarray  # (n, 4) uint32
    flags: np.ndarray  # (n,) uint8


def _code_digest(code: types.CodeType, digest: Any) -> None:
    digest.update(code.co_code)
    digest.update(repr(code.co_names).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_digest(const, digest)  # its repr holds a memory address
        elif isinstance(const, frozenset):  # `x in ("a", "b")` compiles to one; order varies
            digest.update(repr(sorted(map(repr, const))).encode())
        else:
            digest.update(repr(const).encode())


def fingerprint() -> str:
    """What the per-token values depend on, as the running code and dictionary have it."""
    import pymorphy3

    digest = hashlib.sha256()
    dictionary_meta = sorted(dict(morph_analyzer().dictionary.meta).items())
    definitions = (
        SEEDS_VERSION,
        pymorphy3.__version__,
        dictionary_meta,
        quality.COUNTS_DEFINITION,
        urgency.FLAGS_DEFINITION,
    )
    digest.update(repr(definitions).encode())
    helpers = (quality.token_counts, is_known_word.__wrapped__, urgency.token_flags)
    for function in (*helpers, urgency._stem_flags):
        _code_digest(function.__code__, digest)
    return digest.hexdigest()


def compute_seeds(tokens: Sequence[str]) -> RuleSeeds:
    """The per-token values of these tokens, with the current fingerprint."""
    flags = np.array([urgency.token_flags(t) for t in tokens], dtype=np.uint8)
    return RuleSeeds(fingerprint(), quality.token_count_fields(tokens), flags)


def plant_seeds(seeds: RuleSeeds, tokens: Sequence[str]) -> bool:
    """Hand shipped values to the rule modules; False (and nothing done) if they are stale."""
    if len(tokens) != len(seeds.flags) or seeds.fingerprint != fingerprint():
        return False
    quality.remember_token_counts(tokens, seeds.counts)
    urgency.remember_token_flags(tokens, seeds.flags)
    return True
