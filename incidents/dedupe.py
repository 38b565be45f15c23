"""Pure duplicate detection: does a new message tell about an already open incident?"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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


def strip_place(content: Sequence[str], place: Place) -> tuple[str, ...]:
    """Drop the words that only name the place (settlement, street, house)."""
    stems = _place_stems(place)
    house = house_key(place.house)
    return tuple(
        w
        for w in content
        if w != house
        and not any(w.startswith(stem) if len(stem) >= 4 else w == stem for stem in stems)
    )


def content_words(text: str, place: Place) -> list[str]:
    """Content words of `text` without the words that only name the place."""
    return list(strip_place(words(text), place))


def topics_of(content: Sequence[str]) -> frozenset[str]:
    """Problem topics named by the content words."""
    found: set[str] = set()
    for word in content:
        if any(word.startswith(stop) for stop in _NOT_TOPIC):
            continue
        for topic, prefixes in TOPICS.items():
            if any(word.startswith(prefix) for prefix in prefixes):
                found.add(topic)
    return frozenset(found)


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


def best_duplicate(
    new: DupKey, candidates: Sequence[tuple[int, DupKey]], *, threshold: float, window: timedelta
) -> DuplicateMatch | None:
    """The best matching candidate: text matches first, then the highest similarity."""
    matches = [
        match
        for old_id, old in candidates
        if (match := match_duplicate(new, old, old_id=old_id, threshold=threshold, window=window))
    ]
    if not matches:
        return None
    return max(matches, key=lambda m: (m.reason == "text", m.similarity, -m.incident_id))
