"""Cheap checks that tell a Russian message from empty, junk or foreign-language input."""

from __future__ import annotations

import re
import unicodedata

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


def check_text(normalized: str) -> list[str]:
    """Reasons why a normalised message is not reviewable Russian text (empty list if it is)."""
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
    # Forty words are plenty to tell Russian from keyboard noise.
    long_words = _WORD.findall(normalized, 0, 600)[:40]
    known = sum(is_known_word(w) for w in long_words)
    if long_words and known < 0.5 * len(long_words):
        return [JUNK]
    return []
