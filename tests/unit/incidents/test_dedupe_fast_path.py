"""Property tests: the fast duplicate search decides exactly as the plain rule does.

`match_prepared` (gram bit masks, a cheap check whether a side can lose a word to the other
side's place, the size bound) must give what `match_duplicate` gives for any pair, and
`CandidatePool.best` what the plain rule ranked by `rank` gives. The texts are made to hit
the edge cases: words naming either side's place (inflected, or only sharing the first four
letters of a stem), houses, missing settlement or street, place names of stop words only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.candidates import Candidate, CandidatePool, side_of
from incidents.dedupe import (
    DupKey,
    DuplicateMatch,
    Place,
    best_duplicate,
    match_duplicate,
    match_prepared,
    prepare,
    rank,
)
from incidents.rows import TextAndPlace
from incidents.text import house_key, place_key

T0 = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
WINDOW = timedelta(hours=72)
LETTERS = "абвгдежзийклмнопрстуфхцчшщъыьэюя"
CONTENT = (
    *("прорвало", "трубу", "вода", "хлещет", "подвал", "яма", "дорога", "асфальт", "фонари"),
    *("темно", "мусор", "контейнер", "снег", "сугробы", "автобус", "рейс", "отопления"),
    *("батареи", "холодные", "свет", "провод", "собаки", "газета", "водитель", "травма"),
    *("дорогие", "неделю", "третий"),
)
SETTLEMENTS = ("Амурзет", "с. Пузино", "Екатерино-Никольское", "Ам", "Луговое", "село")
STREETS = ("ул. Ленина", "Центральная", "60 лет СССР", "пер. Мира", "Ле", "Новая", "улица")
HOUSES = ("12", "д. 5 А", "5а", "1/2", "3", "д. 12", "дом")

name = st.text(alphabet=LETTERS + "0123456789 -.", min_size=1, max_size=14)
places = st.builds(
    Place,
    settlement=st.none() | st.sampled_from(SETTLEMENTS) | name,
    street=st.none() | st.sampled_from(STREETS) | name,
    house=st.none() | st.sampled_from(HOUSES) | st.text(alphabet="0123456789аб/", max_size=4),
)
random_words = st.text(alphabet=LETTERS + "0123456789", min_size=1, max_size=9)
thresholds = st.sampled_from((0.3, 0.5, 0.7)) | st.floats(min_value=0.05, max_value=1.0)


def _place_words(place: Place) -> list[str]:
    """Words that name the place or nearly do: whole, inflected, cut, or sharing 4 letters."""
    found: list[str] = []
    for value in (place.settlement, place.street):
        for word in (place_key(value) or "").split():
            found += [word, word + "е", word[:-2] + "ой", word[:4], word[:4] + "ка", word[:5]]
    house = house_key(place.house)
    if house:
        found += [house, house + "0"]
    return found


def one_word(near: list[Place]) -> st.SearchStrategy[str]:
    """A content word, a random one, or a word naming (or nearly naming) one of the places."""
    named = [w for place in near for w in _place_words(place) if w]
    found = st.sampled_from(CONTENT) | random_words
    return found | st.sampled_from(named) if named else found


def word_lists(near: list[Place]) -> st.SearchStrategy[tuple[str, ...]]:
    """Content words mixed with words naming the given places and random ones."""
    return st.lists(one_word(near), max_size=14).map(tuple)


@st.composite
def pairs(draw: st.DrawFn) -> tuple[DupKey, DupKey]:
    """Two messages of one block within the window, often near copies of each other."""
    a_place, b_place = draw(places), draw(places | st.just(Place()))
    if draw(st.booleans()):
        b_place = a_place
    near = [a_place, b_place]
    a_words, b_words = draw(word_lists(near)), draw(word_lists(near))
    if draw(st.booleans()) and a_words:  # a near copy: one word replaced, maybe one added
        changed = list(a_words)
        changed[draw(st.integers(0, len(changed) - 1))] = draw(one_word(near))
        b_words = (*changed, *draw(st.lists(one_word(near), max_size=1)))
    at = T0 + timedelta(minutes=draw(st.integers(-72 * 60, 72 * 60)))
    return DupKey("housing", a_place, a_words, T0), DupKey("housing", b_place, b_words, at)


@settings(max_examples=400, deadline=None)
@given(pair=pairs(), threshold=thresholds)
def test_match_prepared_equals_match_duplicate(
    pair: tuple[DupKey, DupKey], threshold: float
) -> None:
    new, old = pair
    fast = match_prepared(
        prepare(new.words, new.place), prepare(old.words, old.place), old_id=7, threshold=threshold
    )
    assert fast == match_duplicate(new, old, old_id=7, threshold=threshold, window=WINDOW)


def _reference(
    new: DupKey, candidates: list[tuple[int, DupKey]], threshold: float
) -> DuplicateMatch | None:
    found = [
        m
        for old_id, old in candidates
        if (m := match_duplicate(new, old, old_id=old_id, threshold=threshold, window=WINDOW))
    ]
    return max(found, key=rank) if found else None


@st.composite
def pools(draw: st.DrawFn) -> tuple[DupKey, list[tuple[int, DupKey]], int]:
    """A message, candidates at a few shared places (some near copies of it), a pool margin."""
    shared = draw(st.lists(places, min_size=1, max_size=4))
    new_place = draw(st.sampled_from(shared) | places)
    near = [*shared, new_place]
    new = DupKey("housing", new_place, draw(word_lists(near)), T0)
    candidates: list[tuple[int, DupKey]] = []
    for order in draw(st.lists(st.integers(1, 10_000), unique=True, max_size=25)):
        words = new.words if draw(st.booleans()) else draw(word_lists(near))
        hours = draw(st.integers(-100, 100))
        place = draw(st.sampled_from(shared))
        candidates.append((order, DupKey("housing", place, words, T0 + timedelta(hours=hours))))
    return new, candidates, draw(st.integers(0, 30))


def _candidate(order: int, key: DupKey) -> Candidate:
    place = key.place
    text = TextAndPlace(" ".join(key.words), place.settlement, place.street, place.house)
    return Candidate(order, key.received_at, side_of(text), text)


@settings(max_examples=200, deadline=None)
@given(case=pools(), threshold=thresholds, refreshed=st.integers(0, 30), moved_to=places)
def test_pool_best_equals_the_ranked_plain_rule(
    case: tuple[DupKey, list[tuple[int, DupKey]], int],
    threshold: float,
    refreshed: int,
    moved_to: Place,
) -> None:
    new, candidates, margin = case
    # A pool loaded for an earlier message: it also holds candidates older than the window.
    since = new.received_at - WINDOW - timedelta(hours=margin)
    held = sorted(
        (_candidate(order, key) for order, key in candidates if key.received_at >= since),
        key=lambda c: (c.received_at, c.order),
        reverse=True,
    )
    pool = CandidatePool(since=since, limit=len(candidates) + 2, newest_first=held)
    keys = dict(candidates)
    if held:  # a join moved one incident to another place (its group changes)
        moved = held[refreshed % len(held)]
        key = keys[moved.order]
        keys[moved.order] = DupKey(key.block, moved_to, key.words, key.received_at)
        pool.refresh(moved, _candidate(moved.order, keys[moved.order]).side)
    opened = DupKey("housing", new.place, new.words[:-1], new.received_at)
    pool.add(_candidate(20_000, opened))
    keys[20_000] = opened
    everything = list(keys.items())
    expected = _reference(new, everything, threshold)
    found = pool.best(
        prepare(new.words, new.place),
        received_at=new.received_at,
        threshold=threshold,
        window=WINDOW,
    )
    assert (None if found is None else found[0]) == expected
    assert found is None or found[1].order == found[0].incident_id
    assert best_duplicate(new, everything, threshold=threshold, window=WINDOW) == expected
