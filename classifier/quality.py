"""Cheap checks that tell a Russian message from empty, junk or foreign-language input."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import numpy as np

from classifier.normalize import MASK_TOKENS, is_known_word

EMPTY = "empty_text"
JUNK = "junk_text"
NON_RUSSIAN = "non_russian"

# Letters of Chuvash, Kazakh, Tatar, Bashkir, Ukrainian and Belarusian absent from Russian.
_FOREIGN_CYRILLIC = re.compile(r"[ӑӗҫӳәғқңөұүһіїєґўҗҙҡҫ]", re.IGNORECASE)
_MASKS = re.compile("|".join(re.escape(t) for t in MASK_TOKENS))
_NON_LETTER = re.compile(r"[\W\d_]+")
_NON_CYRILLIC = re.compile(r"[^а-яё]+", re.IGNORECASE)
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)
_WORD = re.compile(r"[а-яё]{3,}")
_LETTER = re.compile(r"[^\W\d_]")
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
_CYRILLIC_WORD = re.compile(r"[а-яё]+")
# A letter a token cannot hold: its text takes the character-by-character path.
_OTHER_LETTER = re.compile(r"[^\W\d_а-яa-z]")
# The dictionary test reads the first 40 long words within the first 600 characters.
_WORDS_SPAN = 600
_WORDS_CHECKED = 40
# Summed counts stay exact while a field holds them: 20 bits, ~1M letters per message.
_FIELDS = (0, 20, 40, 60)
_FIELD_MAX = (1 << 20) - 1
_MAX_REMEMBERED = 200_000


def check_text(normalized: str, tokens: Sequence[str] | None = None) -> list[str]:
    """Reasons why a normalised message is not reviewable Russian text (empty list if it is).

    `tokens` (normalize.tokenize of the same text) gives the same answer faster: when every
    letter of the text is [а-яa-z], all of them lie inside tokens, so the letter counts and
    the dictionary test add up from per-token counts remembered across messages.
    """
    if tokens is None or _OTHER_LETTER.search(normalized):
        return _check_characters(normalized)
    counts = sum(map(_TOKEN_COUNTS.__getitem__, tokens))
    letters, cyrillic, words, known = ((counts >> shift) & _FIELD_MAX for shift in _FIELDS)
    n_masks = mask_chars = 0
    if "<" in normalized:
        masks = _MASKS.findall(normalized)
        n_masks, mask_chars = len(masks), sum(map(len, masks))
    if letters == 0:
        return [EMPTY]
    # As below, after each mask became one space and the spaces were dropped.
    if letters < 0.5 * (len(normalized) - normalized.count(" ") - mask_chars):
        return [JUNK]
    if cyrillic < max(3, letters // 2):
        return _check_characters(normalized)  # the script test needs the characters
    if len(normalized) - mask_chars + n_masks > _WORDS_SPAN or words > _WORDS_CHECKED:
        return _dictionary_verdict(_MASKS.sub(" ", normalized) if n_masks else normalized)
    return [JUNK] if words and known < 0.5 * words else []


def _check_characters(normalized: str) -> list[str]:
    if "<" in normalized:
        normalized = _MASKS.sub(" ", normalized)
    # Counting through regex substitution keeps the per-character loop in C.
    only_letters = _NON_LETTER.sub("", normalized)
    letters = len(only_letters)
    if letters == 0:
        return [EMPTY]
    if letters < 0.5 * len(normalized.replace(" ", "")):
        return [JUNK]
    cyrillic = len(_NON_CYRILLIC.sub("", only_letters))
    foreign = len(_FOREIGN_CYRILLIC.findall(only_letters))
    if foreign >= 2 and foreign * 40 >= cyrillic:
        return [NON_RUSSIAN]
    if cyrillic < max(3, letters // 2):
        latin = len(_LATIN.findall(normalized))
        # A single script other than Cyrillic is a foreign language; a mix is noise.
        scripts = {unicodedata.name(ch, "?").split()[0] for ch in normalized if ch.isalpha()}
        return [NON_RUSSIAN if latin > letters // 2 or len(scripts) == 1 else JUNK]
    return _dictionary_verdict(normalized)


def _dictionary_verdict(masked: str) -> list[str]:
    # Forty words are plenty to tell Russian from keyboard noise.
    long_words = _WORD.findall(masked, 0, _WORDS_SPAN)[:_WORDS_CHECKED]
    known = sum(is_known_word(w) for w in long_words)
    if long_words and known < 0.5 * len(long_words):
        return [JUNK]
    return []


def token_counts(token: str) -> int:
    """Letters, Cyrillic letters, long words and known long words of one token; 20 bits each."""
    if token in MASK_TOKENS:
        return 0  # masks are blanked before counting
    if _CYRILLIC_WORD.fullmatch(token):  # most tokens: one Cyrillic word
        n = len(token)
        long_word = n >= 3
        return n | n << 20 | long_word << 40 | (long_word and is_known_word(token)) << 60
    letters = len(_LETTER.findall(token))
    cyrillic = len(_CYRILLIC.findall(token))
    words = _WORD.findall(token)
    known = sum(map(is_known_word, words))
    return letters | cyrillic << 20 | len(words) << 40 | known << 60


def token_count_fields(tokens: Sequence[str]) -> np.ndarray:
    """token_counts of many tokens as an (n, 4) uint32 array, one column per field."""
    packed = [token_counts(t) for t in tokens]
    return np.array(
        [[(c >> shift) & _FIELD_MAX for shift in _FIELDS] for c in packed], dtype=np.uint32
    ).reshape(len(tokens), len(_FIELDS))


def remember_token_counts(tokens: Sequence[str], fields: np.ndarray) -> None:
    """Take token_count_fields computed earlier (shipped with a model) as known counts."""
    low = fields[:, 0].astype(np.uint64)
    for column, shift in zip(fields.T[1:3], _FIELDS[1:3], strict=True):
        low |= column.astype(np.uint64) << np.uint64(shift)
    # The top field would pass 64 bits: Python ints from here on.
    packed = [
        lo | k << _FIELDS[3] for lo, k in zip(low.tolist(), fields[:, 3].tolist(), strict=True)
    ]
    if len(_TOKEN_COUNTS) + len(packed) > _MAX_REMEMBERED:
        _TOKEN_COUNTS.clear()
    _TOKEN_COUNTS.update(zip(tokens, packed, strict=True))


# What token_counts reads besides its own code and the dictionary: shipped counts are used
# only while all of it is unchanged (classifier/rule_seeds.py).
COUNTS_DEFINITION = (
    _FIELDS,
    MASK_TOKENS,
    *(p.pattern for p in (_CYRILLIC_WORD, _LETTER, _CYRILLIC, _WORD)),
)


class _TokenCounts(dict[str, int]):
    """token_counts per token, remembered across messages."""

    def __missing__(self, token: str) -> int:
        if len(self) >= _MAX_REMEMBERED:
            self.clear()
        counts = self[token] = token_counts(token)
        return counts


_TOKEN_COUNTS = _TokenCounts()
