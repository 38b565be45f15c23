"""Case forms of place names, generated once when a gazetteer is compiled."""

from __future__ import annotations

import re
from functools import lru_cache

from classifier.normalize import morph_analyzer

CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct")
_PROPER_TAGS = frozenset({"Geox", "Name", "Surn", "Patr", "Orgn"})
_CONSONANT_END = re.compile(r"[бвгджзклмнпрстфхцчшщ]$")
_VELAR_SIBILANT = set("гкхжшчщ")

# Endings → oblique-case endings, for names the dictionary does not know (Амурзет, Пузино).
_SUFFIX_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ое", ("ого", "ому", "ым", "ом")),
    ("ее", ("его", "ему", "им", "ем")),
    ("ый", ("ого", "ому", "ым", "ом")),
    ("ой", ("ого", "ому", "ым", "ом")),
    ("ий", ("его", "ему", "им", "ем", "ого", "ому", "ом")),
    ("ая", ("ой", "ую")),
    ("яя", ("ей", "юю")),
    ("ово", ("ова", "ову", "овом", "ове")),
    ("ево", ("ева", "еву", "евом", "еве")),
    ("ино", ("ина", "ину", "ином", "ине")),
    ("ыно", ("ына", "ыну", "ыном", "ыне")),
    ("ь", ("и", "ью", "я", "ю", "ем", "е")),
)


def _suffix_forms(word: str) -> set[str]:
    for ending, replacements in _SUFFIX_RULES:
        if word.endswith(ending) and len(word) > len(ending) + 2:
            return {word[: -len(ending)] + r for r in replacements}
    if _CONSONANT_END.search(word):
        return {word + e for e in ("а", "у", "ом", "е")}
    if word.endswith("а") and len(word) > 3:
        stem = word[:-1]
        plural = "и" if stem[-1] in _VELAR_SIBILANT else "ы"
        return {stem + e for e in (plural, "е", "у", "ой")}
    return set()


@lru_cache(maxsize=4096)
def _case_forms(word: str) -> tuple[tuple[str, ...], bool]:
    """Forms of one word in the six cases (word itself where it does not decline) + is-common."""
    if not word.isalpha():
        return (word,) * len(CASES), False
    parses = morph_analyzer().parse(word)
    common = bool(morph_analyzer().word_is_known(word)) and any(
        not (_PROPER_TAGS & set(p.tag.grammemes)) for p in parses
    )
    top = parses[0].tag
    # A known genitive («Ленина», «Мира», «лет») is how the name is used: do not decline it.
    if top.case == "gent" and morph_analyzer().word_is_known(word):
        return (word,) * len(CASES), common
    base = next((p for p in parses if p.tag.case == "nomn" and p.tag.POS in ("NOUN", "ADJF")), None)
    forms = []
    for case in CASES:
        inflected = base.inflect({case}) if base is not None else None
        forms.append(inflected.word.replace("ё", "е") if inflected is not None else word)
    return tuple(forms), common


def name_forms(name: str) -> tuple[set[str], set[str]]:
    """All lowercase forms of a name, and the subset that are also ordinary words."""
    words = name.lower().replace("ё", "е").split()
    if not words:
        return set(), set()
    *head_parts, last_part = words[-1].rsplit("-", 1) if "-" in words[-1] else [words[-1]]
    prefix = head_parts[0] + "-" if head_parts else ""
    per_word = [_case_forms(w) for w in words[:-1]] + [_case_forms(last_part)]
    forms: set[str] = set()
    for i in range(len(CASES)):
        parts = [f[i] for f, _ in per_word]
        forms.add(" ".join([*parts[:-1], prefix + parts[-1]]))
    forms.add(" ".join(words))
    # Guessing by ending only for names the dictionary does not know: known words decline
    # correctly through pymorphy, and guessing would decline «Ленина» as if it were «Ленин».
    if not morph_analyzer().word_is_known(last_part):
        head = " ".join(words[:-1])
        for extra in _suffix_forms(last_part):
            forms.add(f"{head} {prefix}{extra}".strip())
    all_common = all(common for _, common in per_word) and not prefix
    ambiguous = {f for f in forms if all_common and _all_known(f)}
    return forms, ambiguous


def _all_known(phrase: str) -> bool:
    return all(morph_analyzer().word_is_known(w) for w in phrase.split() if w.isalpha())
