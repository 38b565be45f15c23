"""Pure duplicate detection: does a new message tell about an already open incident?"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from incidents.text import house_key, jaccard, place_key, trigrams, words

# Problem topics by word prefix, lemma-free. Two messages at one address whose topics are
# both known and disjoint describe different problems («нет воды» vs «яма у дома»).
TOPICS: Mapping[str, tuple[str, ...]] = {
    "water": (
        "вод",
        "труб",
        "прорв",
        "порыв",
        "прорыв",
        "теч",
        "теку",
        "затоп",
        "топит",
        "кран",
        "колонк",
        "скважин",
        "канализ",
        "кнс",
        "напор",
        "хлещ",
        "фонтан",
        "луж",
    ),
    "heat": ("отоплен", "батаре", "радиатор", "котельн", "тепл", "холод", "мерзн", "топят"),
    "power": ("свет", "электр", "провод", "столб", "подстанц", "трансформ", "напряжен"),
    "road": (
        "ям",
        "дорог",
        "асфальт",
        "грейдер",
        "гравий",
        "отсыпк",
        "обочин",
        "мост",
        "тротуар",
        "колея",
        "колеи",
        "покрыт",
    ),
    "waste": ("мусор", "контейнер", "свалк", "тко", "отход", "бак"),
    "snow": ("снег", "сугроб", "гололед", "налед", "расчист", "чистк"),
    "lighting": ("фонар", "освещен", "темн"),
    "animals": ("собак", "бродяч", "животн"),
    "greenery": ("дерев", "ветк", "покос", "трав", "бурьян", "кустарн"),
    "bus": ("автобус", "маршрут", "рейс"),
    "gas": ("газ",),
}
_NOT_TOPIC = ("газет", "водител", "дорогие", "дорогой", "травм", "проводит", "проводят")


@dataclass(frozen=True, slots=True)
class Place:
    """Settlement, street and house as extracted by the classifier (display form)."""

    settlement: str | None = None
    street: str | None = None
    house: str | None = None


@dataclass(frozen=True, slots=True)
class DupKey:
    """What duplicate detection compares: block, place, content words and time of receipt."""

    block: str
    place: Place
    words: tuple[str, ...]
    received_at: datetime


@dataclass(frozen=True, slots=True)
class DuplicateMatch:
    """Why a message joins an incident: `text` (near-duplicate) or `address`, with the score."""

    incident_id: int
    reason: str
    similarity: float


def _place_value(raw: Any) -> str | None:
    if isinstance(raw, Mapping):
        raw = raw.get("value")
    if isinstance(raw, str | int) and str(raw).strip():
        return str(raw).strip()
    return None


def parse_place(raw: Mapping[str, Any] | None) -> Place:
    """Place from `classification.place` ({"street": {"value": ...}} or plain strings)."""
    raw = raw or {}
    return Place(
        settlement=_place_value(raw.get("settlement")),
        street=_place_value(raw.get("street")),
        house=_place_value(raw.get("house")),
    )


def _place_stems(place: Place) -> list[str]:
    stems: list[str] = []
    for value in (place.settlement, place.street):
        for word in (place_key(value) or "").split():
            stems.append(word[:-2] if len(word) >= 6 else word)
    return stems


@lru_cache(maxsize=4096)
def _place_filter(place: Place) -> tuple[str | None, tuple[str, ...], frozenset[str]]:
    """House key, stems a word starts with (4+ letters) and short stems it must equal."""
    stems = _place_stems(place)
    long = tuple(stem for stem in stems if len(stem) >= 4)
    return house_key(place.house), long, frozenset(stem for stem in stems if len(stem) < 4)


def strip_place(content: Sequence[str], place: Place) -> tuple[str, ...]:
    """Drop the words that only name the place (settlement, street, house)."""
    house, long, short = _place_filter(place)
    return tuple(w for w in content if w != house and w not in short and not w.startswith(long))


def content_words(text: str, place: Place) -> list[str]:
    """Content words of `text` without the words that only name the place."""
    return list(strip_place(words(text), place))


def topics_of(content: Sequence[str]) -> frozenset[str]:
    """Problem topics named by the content words."""
    return frozenset().union(*map(_word_topics, content))


@lru_cache(maxsize=1 << 14)
def _word_topics(word: str) -> frozenset[str]:
    if word.startswith(_NOT_TOPIC):
        return frozenset()
    return frozenset(topic for topic, prefixes in TOPICS.items() if word.startswith(prefixes))


def places_conflict(a: Place, b: Place) -> bool:
    """True when both places are known at some level and differ there."""
    sa, sb = place_key(a.settlement), place_key(b.settlement)
    if sa and sb and sa != sb:
        return True
    ta, tb = place_key(a.street), place_key(b.street)
    if ta and tb and ta != tb:
        return True
    ha, hb = house_key(a.house), house_key(b.house)
    return bool(ta and ta == tb and ha and hb and ha != hb)


def same_address(a: Place, b: Place) -> bool:
    """Same settlement and street, and the same house when both name one."""
    sa, ta = place_key(a.settlement), place_key(a.street)
    if not (sa and ta and sa == place_key(b.settlement) and ta == place_key(b.street)):
        return False
    ha, hb = house_key(a.house), house_key(b.house)
    return not (ha and hb and ha != hb)


def match_duplicate(
    new: DupKey, old: DupKey, *, old_id: int, threshold: float, window: timedelta
) -> DuplicateMatch | None:
    """Whether `new` tells about incident `old`: near-duplicate text, or one address and topic."""
    if new.block != old.block or abs(new.received_at - old.received_at) > window:
        return None
    if places_conflict(new.place, old.place):
        return None
    # Each side may name the other's place in its text (one message had no place extracted).
    new_words = strip_place(new.words, old.place)
    old_words = strip_place(old.words, new.place)
    similarity = jaccard(trigrams(new_words), trigrams(old_words))
    if similarity >= threshold:
        return DuplicateMatch(old_id, "text", similarity)
    if not same_address(new.place, old.place):
        return None
    new_topics, old_topics = topics_of(new_words), topics_of(old_words)
    if new_topics and old_topics and new_topics.isdisjoint(old_topics):
        return None
    return DuplicateMatch(old_id, "address", similarity)


# The fast path (`prepare`, `match_prepared`) gives exactly what `match_duplicate` gives:
# - A side's grams are an int mask, one bit per distinct 3-gram, given for good (grams of
#   [0-9a-zа-я] words: a few thousand in practice). The size of an intersection is
#   `(a & b).bit_count()`, several times faster than intersecting frozensets of strings.
# - `strip_place` drops a word equal to the house or a short stem, or starting with a long
#   stem (4+ letters). So a side can lose a word to the other side's place only if its
#   `word_keys` (its words, and _START + the first 4 letters of each longer word) meet the
#   place's `strip_keys` (house, short stems, and _START + the first 4 letters of each long
#   stem). Disjoint sets are the common case and need no stripping at all.
_START = "\0"  # marks a start; were it to meet a whole word, that only costs a strip_place
_GRAM_BITS: dict[str, int] = {}
_GRAM_BITS_LOCK = threading.Lock()


@lru_cache(maxsize=1 << 15)
def _word_side(word: str) -> tuple[int, tuple[str, ...]]:
    """The gram mask of one word and its keys (cached: words repeat across messages)."""
    padded = f" {word} "  # as `trigrams` pads it
    mask = 0
    for i in range(len(padded) - 2):
        gram = padded[i : i + 3]
        bit = _GRAM_BITS.get(gram)
        if bit is None:
            with _GRAM_BITS_LOCK:  # two threads must not give one bit to two grams
                bit = _GRAM_BITS.setdefault(gram, len(_GRAM_BITS))
        mask |= 1 << bit
    return mask, ((word, _START + word[:4]) if len(word) >= 4 else (word,))


def _mask(content: Iterable[str]) -> int:
    mask = 0
    for word in content:
        mask |= _word_side(word)[0]
    return mask


@dataclass(frozen=True, slots=True)
class _PlaceSide:
    settlement: str | None
    street: str | None
    house: str | None
    strip_keys: frozenset[str]


@lru_cache(maxsize=4096)
def _place_side(place: Place) -> _PlaceSide:
    house, long, short = _place_filter(place)
    keys = {_START + stem[:4] for stem in long} | short
    if house is not None:
        keys.add(house)
    return _PlaceSide(place_key(place.settlement), place_key(place.street), house, frozenset(keys))


@dataclass(frozen=True, slots=True, eq=False)
class Prepared:
    """One side of a comparison, computed once: place keys, words and their grams."""

    place: Place
    settlement: str | None
    street: str | None
    house: str | None
    strip_keys: frozenset[str]  # meets another side's `word_keys` if it may strip a word
    words: tuple[str, ...]
    word_keys: frozenset[str]
    mask: int  # the bits of the grams of `words`
    size: int  # how many grams


@lru_cache(maxsize=8192)  # a message's side is the side of the incident it opens
def prepare(words: tuple[str, ...], place: Place) -> Prepared:
    """The precomputed side of `words` at `place`."""
    side = _place_side(place)
    mask = 0
    keys: list[str] = []
    for word in words:
        word_mask, word_keys = _word_side(word)
        mask |= word_mask
        keys += word_keys
    return Prepared(
        place=place,
        settlement=side.settlement,
        street=side.street,
        house=side.house,
        strip_keys=side.strip_keys,
        words=words,
        word_keys=frozenset(keys),
        mask=mask,
        size=mask.bit_count(),
    )


def _stripped(words: Prepared, place: Prepared) -> tuple[tuple[str, ...], int, int]:
    """The words of one side without the other side's place words, their grams and size."""
    kept = strip_place(words.words, place.place)
    if len(kept) == len(words.words):
        return words.words, words.mask, words.size
    mask = _mask(kept)
    return kept, mask, mask.bit_count()


def match_prepared(
    new: Prepared, old: Prepared, *, old_id: int, threshold: float
) -> DuplicateMatch | None:
    """`match_duplicate` on prepared sides of one block and within the window (same result)."""
    ns = new.settlement
    os_ = old.settlement
    nt = new.street
    ot = old.street
    if (ns and os_ and ns != os_) or (nt and ot and nt != ot):
        return None  # places_conflict: settlement or street
    nh = new.house
    oh = old.house
    if nh and oh and nh != oh:
        if nt and nt == ot:
            return None  # places_conflict: another house of the street
        same = False
    else:
        same = bool(ns and nt and ns == os_ and nt == ot)
    if old.strip_keys.isdisjoint(new.word_keys):
        new_words, a, la = new.words, new.mask, new.size
    else:
        new_words, a, la = _stripped(new, old)
    if new.strip_keys.isdisjoint(old.word_keys):
        old_words, b, lb = old.words, old.mask, old.size
    else:
        old_words, b, lb = _stripped(old, new)
    similarity = 0.0
    if la and lb:
        # Jaccard is at most min/max of the sizes: below the threshold only an address match
        # (which needs the exact value) can still come out of this pair.
        if not same and (la / lb if la < lb else lb / la) < threshold:
            return None
        inter = (a & b).bit_count()
        similarity = inter / (la + lb - inter)
    if similarity >= threshold:
        return DuplicateMatch(old_id, "text", similarity)
    if not same:
        return None
    new_topics, old_topics = topics_of(new_words), topics_of(old_words)
    if new_topics and old_topics and new_topics.isdisjoint(old_topics):
        return None
    return DuplicateMatch(old_id, "address", similarity)


def rank(match: DuplicateMatch) -> tuple[bool, float, int]:
    """Order of matches: text matches first, then the highest similarity, then the oldest id."""
    return (match.reason == "text", match.similarity, -match.incident_id)


def best_duplicate(
    new: DupKey, candidates: Sequence[tuple[int, DupKey]], *, threshold: float, window: timedelta
) -> DuplicateMatch | None:
    """The best matching candidate: text matches first, then the highest similarity."""
    side = prepare(new.words, new.place)
    best: DuplicateMatch | None = None
    for old_id, old in candidates:
        if new.block != old.block or abs(new.received_at - old.received_at) > window:
            continue
        match = match_prepared(
            side, prepare(old.words, old.place), old_id=old_id, threshold=threshold
        )
        if match is not None and (best is None or rank(match) > rank(best)):
            best = match
    return best
