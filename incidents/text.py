"""Pure text helpers for incidents: cleaning, titles, fingerprints and similarity."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

FINGERPRINT_MAX_WORDS = 80
TITLE_MAX_CHARS = 120

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_VK_MENTION = re.compile(r"\[(?:id|club|public)\d+\|([^\[\]]{1,200})\]")
_WORD = re.compile(r"[0-9a-zа-я]+")

# Function words, greetings and address type words: they make unrelated texts look alike.
_STOP_TEXT = """
    а без более бы был была были было быть в вам вас ваш ве весь во вот все всем всех вы
    где да даже для до его ее если есть еще же за здесь и из или им их к как ко когда кто
    ли либо мне мной мы на над нам нас наш не него нее нет ни них но ну о об однако он она
    они оно от очень по под при про с со так также там те тем то того тоже той только том
    тут у уже хотя чем через что чтобы эта эти это этого этом я
    здравствуйте добрый день вечер утро доброго пожалуйста спасибо просим прошу помогите
    уважаемые уважаемая уважаемый администрация администрации очень просто опять снова
    ул улица улице улицы пер переулок переулке пр проспект с село селе села п пос поселок
    поселке д дом доме дома кв квартира мкр г город городе район района
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())


def clean_text(text: str) -> str:
    """Text without URLs, e-mails and VK markup, whitespace collapsed."""
    # Each pattern needs its character: most messages skip the (slow) e-mail scan.
    if "|" in text:
        text = _VK_MENTION.sub(r"\1", text)
    text = _URL.sub(" ", text)
    if "@" in text:
        text = _EMAIL.sub(" ", text)
    return " ".join(text.split())  # \s and str.isspace agree on every character


def make_title(text: str, *, limit: int = TITLE_MAX_CHARS) -> str:
    """The first `limit` characters of the cleaned text, cut on a whole word."""
    cleaned = clean_text(text) or "Без текста"
    if len(cleaned) <= limit:
        return cleaned
    cut = cleaned[: limit + 1].rsplit(" ", 1)[0] if " " in cleaned[:limit] else cleaned[:limit]
    return cut.rstrip(" ,.;:—-") + "…"


def words(text: str) -> list[str]:
    """Lowercase words and numbers of `text` (ё→е), stop words dropped, order kept."""
    lowered = clean_text(text).lower().replace("ё", "е")
    return [
        w for w in _WORD.findall(lowered) if w not in STOP_WORDS and (len(w) > 1 or w.isdigit())
    ]


def fingerprint(text: str, *, max_words: int = FINGERPRINT_MAX_WORDS) -> str:
    """A compact, stable fingerprint: the first distinct content words, space-joined."""
    return merge_fingerprints([" ".join(words(text))], max_words=max_words)


def merge_fingerprints(
    prints: Iterable[str | None], *, max_words: int = FINGERPRINT_MAX_WORDS
) -> str:
    """Distinct words of several fingerprints in order of first appearance, capped."""
    seen: dict[str, None] = {}
    for one in prints:
        for word in (one or "").split():
            if len(seen) >= max_words:
                return " ".join(seen)
            seen.setdefault(word, None)
    return " ".join(seen)


def trigrams(fingerprint_words: Iterable[str]) -> frozenset[str]:
    """Character 3-grams of each word padded with spaces (catch case endings without lemmas)."""
    grams: set[str] = set()
    for word in fingerprint_words:
        padded = f" {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return frozenset(grams)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two sets; 0.0 when both are empty."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def text_similarity(a: str, b: str) -> float:
    """Jaccard of character 3-grams of all words (stop words kept: for template detection)."""
    return jaccard(_all_grams(a), _all_grams(b))


def _all_grams(text: str) -> frozenset[str]:
    lowered = clean_text(text).lower().replace("ё", "е")
    return trigrams(_WORD.findall(lowered))


def max_similarity(text: str, others: Sequence[str]) -> float:
    """The highest `text_similarity` of `text` to any of `others` (0.0 for none)."""
    grams = _all_grams(text)
    return max((jaccard(grams, _all_grams(other)) for other in others), default=0.0)


@lru_cache(maxsize=4096)
def place_key(value: str | None) -> str | None:
    """A comparable key of a settlement/street name: lowercase, no type words or punctuation."""
    if not value:
        return None
    parts = [w for w in _WORD.findall(value.lower().replace("ё", "е")) if w not in STOP_WORDS]
    return " ".join(parts) or None


@lru_cache(maxsize=4096)
def house_key(value: str | None) -> str | None:
    """A comparable house number: «д. 5 А», «5а», «5-а» → «5а»."""
    if not value:
        return None
    lowered = value.lower().replace("ё", "е")
    lowered = re.sub(r"^\s*(?:д|дом)\b\.?", "", lowered)
    key = re.sub(r"[^0-9a-zа-я/]", "", lowered)
    return key or None
