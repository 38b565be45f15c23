"""The prepared (fast) duplicate search decides exactly as `match_duplicate` does, pair by pair."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from incidents.dedupe import (
    _NOT_TOPIC,
    TOPICS,
    DupKey,
    DuplicateMatch,
    Place,
    best_duplicate,
    content_words,
    match_duplicate,
    match_prepared,
    prepare,
    rank,
    strip_place,
    topics_of,
)
from incidents.text import house_key, place_key

T0 = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
WINDOW = timedelta(hours=72)
# Content words, words that also name places (stripped by the other side's place) and houses.
_VOCAB = """
    прорвало трубу вода хлещет подвал яма дорога асфальт фонари темно мусор контейнер вывозят
    снег сугробы автобус рейс отопления батареи холодные третий день неделю колонке свет провод
    столб собаки бродячие газета водитель травма дорогие
"""
_PLACE_WORDS = "ленина ленинской амурзет амурзете пузино центральной центральная мира 12 5а 3"
VOCAB = tuple(_VOCAB.split())
PLACE_WORDS = tuple(_PLACE_WORDS.split())
PLACES = (
    Place(),
    Place("Амурзет"),
    Place("Амурзет", "ул. Ленина"),
    Place("Амурзет", "Ленина", "12"),
    Place("Амурзет", "Ленина", "д. 5 А"),
    Place("Пузино", "Центральная"),
    Place(None, "Центральная", "3"),
    Place("Амурзет", "улица Мира"),
    Place(None, None, "12"),
)


def _key(rng: random.Random, block: str) -> DupKey:
    words = [rng.choice(VOCAB) for _ in range(rng.randint(0, 12))]
    words += [rng.choice(PLACE_WORDS) for _ in range(rng.randint(0, 3))]
    rng.shuffle(words)
    at = T0 + timedelta(hours=rng.randint(-100, 100))
    return DupKey(block, rng.choice(PLACES), tuple(words), at)


def _reference(
    new: DupKey, candidates: list[tuple[int, DupKey]], threshold: float
) -> DuplicateMatch | None:
    matches = [
        m
        for old_id, old in candidates
        if (m := match_duplicate(new, old, old_id=old_id, threshold=threshold, window=WINDOW))
    ]
    return max(matches, key=rank) if matches else None


@pytest.mark.parametrize("seed", range(40))
def test_best_duplicate_equals_the_pairwise_rule(seed: int) -> None:
    rng = random.Random(seed)
    threshold = rng.choice((0.3, 0.5, 0.7))
    new = _key(rng, "housing")
    candidates = [(i, _key(rng, rng.choice(("housing", "roads")))) for i in range(1, 60)]
    # Near-copies of the new message make text matches likely, not only accidental.
    for i in range(60, 70):
        words = list(new.words)
        if words and rng.random() < 0.7:
            words[rng.randrange(len(words))] = rng.choice(VOCAB)
        candidates.append((i, DupKey("housing", rng.choice(PLACES), tuple(words), new.received_at)))
    assert best_duplicate(new, candidates, threshold=threshold, window=WINDOW) == _reference(
        new, candidates, threshold
    )


def test_every_pair_matches_like_match_duplicate() -> None:
    rng = random.Random(2026)
    for _ in range(3000):
        a, b = _key(rng, "housing"), _key(rng, "housing")
        words = list(a.words) if rng.random() < 0.5 else list(b.words)
        if words and rng.random() < 0.5:
            words[rng.randrange(len(words))] = rng.choice(VOCAB + PLACE_WORDS)
        b = DupKey(b.block, b.place, tuple(words), a.received_at)
        fast = match_prepared(
            prepare(a.words, a.place), prepare(b.words, b.place), old_id=7, threshold=0.5
        )
        assert fast == match_duplicate(a, b, old_id=7, threshold=0.5, window=WINDOW)


def test_place_words_of_either_side_are_ignored() -> None:
    amz = Place("Амурзет", "Ленина", "12")
    text = "В Амурзете на Ленина 12 прорвало трубу, вода хлещет в подвал"
    new = DupKey("housing", amz, tuple(content_words(text, amz)), T0)
    old = DupKey("housing", Place(), tuple(content_words(text, Place())), T0)
    assert "амурзете" in old.words and "амурзете" not in new.words
    match = best_duplicate(new, [(1, old)], threshold=0.5, window=WINDOW)
    assert match is not None and match.reason == "text" and match.similarity == 1.0


def _strip_as_written_first(content: tuple[str, ...], place: Place) -> tuple[str, ...]:
    """strip_place as first written (a word at a time): the reference for the set-based one."""
    stems = []
    for value in (place.settlement, place.street):
        for word in (place_key(value) or "").split():
            stems.append(word[:-2] if len(word) >= 6 else word)
    house = house_key(place.house)
    return tuple(
        w
        for w in content
        if w != house
        and not any(w.startswith(stem) if len(stem) >= 4 else w == stem for stem in stems)
    )


def test_strip_place_drops_the_same_words_as_first_written() -> None:
    rng = random.Random(11)
    places = (*PLACES, Place("Екатерино-Никольское", "60 лет СССР", "1/2"), Place("Ам", "Ле"))
    words = (*VOCAB, *PLACE_WORDS, "60", "лет", "ссср", "ам", "ле", "1/2", "екатерино")
    for _ in range(2000):
        content = tuple(rng.choice(words) for _ in range(rng.randint(0, 15)))
        place = rng.choice(places)
        assert strip_place(content, place) == _strip_as_written_first(content, place)


def _topics_as_first_written(content: tuple[str, ...]) -> frozenset[str]:
    found: set[str] = set()
    for word in content:
        if any(word.startswith(stop) for stop in _NOT_TOPIC):
            continue
        for topic, prefixes in TOPICS.items():
            if any(word.startswith(prefix) for prefix in prefixes):
                found.add(topic)
    return frozenset(found)


def test_topics_are_found_as_first_written() -> None:
    rng = random.Random(3)
    words = [p + rng.choice(("", "а", "ой", "ами")) for ps in TOPICS.values() for p in ps]
    words += [*_NOT_TOPIC, *VOCAB, "газета", "водитель", "проводится", "ветка", "темнота"]
    for _ in range(3000):
        content = tuple(rng.choice(words) for _ in range(rng.randint(0, 8)))
        assert topics_of(content) == _topics_as_first_written(content)
