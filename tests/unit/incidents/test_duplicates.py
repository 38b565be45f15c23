"""Duplicate detection on realistic messages: the same problem told differently, and look-alikes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incidents.rules import DupKey, Place, best_duplicate, content_words, match_duplicate

T0 = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
WINDOW = timedelta(hours=72)
THRESHOLD = 0.5

AMZ = "Амурзет"


def place(
    settlement: str | None = None, street: str | None = None, house: str | None = None
) -> Place:
    return Place(settlement, street, house)


# (block, text A, place A, text B, place B) — one problem, told in different channels.
PAIRS = [
    (
        "housing",
        "Прорвало трубу на Ленина 12 в Амурзете, вода хлещет прямо на дорогу!!!",
        place(AMZ, "ул. Ленина", "12"),
        "Порыв водопровода у дома 12 по улице Ленина, с. Амурзет. Топит двор, просим устранить.",
        place(AMZ, "Ленина", "д. 12"),
    ),
    (
        "housing",
        "В Пузино на Центральной третий день нет воды в колонке, люди ходят за водой на речку",
        place("Пузино", "Центральная"),
        "Третий день нет воды в колонке на Центральной в Пузино. Люди ходят за водой на речку!",
        place(),
    ),
    (
        "housing",
        "Уважаемая администрация! Обращаюсь по поводу порыва трубы холодного водоснабжения по "
        "адресу с. Амурзет, ул. Ленина, д. 12. Вода течёт вторые сутки, в подвале вода.",
        place(AMZ, "Ленина", "12"),
        "На Ленина 12 опять течь, двор затопило",
        place(AMZ, "Ленина", "12"),
    ),
    (
        "energy",
        "Не горят фонари по всей улице Мира в Амурзете, вечером темно, страшно идти",
        place(AMZ, "улица Мира"),
        "Уличное освещение на ул. Мира не работает уже неделю",
        place(AMZ, "Мира"),
    ),
    (
        "roads",
        "Огромная яма на Калинина у школы, машины бьют колёса",
        place(AMZ, "Калинина"),
        "На ул. Калинина возле школы провал асфальта, опасно для детей",
        place(AMZ, "Калинина"),
    ),
    (
        "housing",
        "В доме 3 по Школьной холодные батареи, дети мёрзнут",
        place(AMZ, "Школьная", "3"),
        "Школьная 3, отопления нет третий день",
        place(AMZ, "Школьная", "3"),
    ),
    (
        "roads",
        "Садовую замело снегом, не проехать, скорая не доедет",
        place("Полевое", "Садовая"),
        "Садовая не чищена от снега, сугробы по пояс",
        place("Полевое", "Садовая"),
    ),
    (
        "transport",
        "Верните автобус 105 по старому расписанию, утром невозможно уехать на работу",
        place(),
        "Прошу вернуть автобус 105 по старому расписанию! Утром невозможно уехать на работу",
        place(),
    ),
    (
        "housing",
        "Ленина 12, сделайте уже что-нибудь!!! Сколько можно ждать",
        place(AMZ, "Ленина", "12"),
        "Порыв трубы на Ленина 12",
        place(AMZ, "Ленина", "12"),
    ),
    (
        "housing",
        "На Ленина в Амурзете течёт труба, вода по всей улице",
        place(AMZ, "Ленина"),
        "Ленина 12, порыв трубы, заливает дорогу",
        place(AMZ, "Ленина", "12"),
    ),
    (
        "waste",
        "Контейнеры на Октябрьской переполнены, мусор неделю не вывозили",
        place(AMZ, "Октябрьская"),
        "На ул. Октябрьская свалка у контейнерной площадки, мусор не вывозят",
        place(AMZ, "ул Октябрьская"),
    ),
    (
        "energy",
        "Ёлка упала на провода на Лесной, света нет с утра",
        place("Ленинское", "Лесная"),
        "на лесной елка упала на провода, нет света с утра. Ленинское",
        place(),
    ),
]

# Look-alikes that must stay apart.
NON_PAIRS = [
    (  # same house, different problem
        "housing",
        "Прорвало трубу на Ленина 12, вода хлещет",
        place(AMZ, "Ленина", "12"),
        "На Ленина 12 в подъезде не работает отопление, батареи холодные",
        place(AMZ, "Ленина", "12"),
    ),
    (  # same problem words, different house
        "housing",
        "Нет воды в доме на Ленина 5",
        place(AMZ, "Ленина", "5"),
        "Нет воды в доме на Ленина 14",
        place(AMZ, "Ленина", "14"),
    ),
    (  # same problem words, different village
        "energy",
        "В Амурзете на Ленина нет света второй день",
        place(AMZ, "Ленина"),
        "В Пузино на Ленина нет света второй день",
        place("Пузино", "Ленина"),
    ),
    (  # same problem, different street of one village
        "roads",
        "Яма на дороге на Ленина, не проехать",
        place(AMZ, "Ленина"),
        "Яма на дороге на Советской, не проехать",
        place(AMZ, "Советская"),
    ),
    (  # same street, road vs snow
        "roads",
        "На Ленина огромная яма у магазина",
        place(AMZ, "Ленина"),
        "На Ленина не чистят снег, сугробы",
        place(AMZ, "Ленина"),
    ),
    (  # same street, water vs a fallen pole
        "housing",
        "На Заречной нет воды",
        place("Екатерино-Никольское", "Заречная"),
        "На Заречной упал столб, провода лежат на земле",
        place("Екатерино-Никольское", "Заречная"),
    ),
    (  # same text, different village (a copied complaint)
        "roads",
        "Когда починят дорогу? Ямы по колено, грейдер не приезжал всё лето",
        place(AMZ),
        "Когда починят дорогу? Ямы по колено, грейдер не приезжал всё лето",
        place("Ленинское"),
    ),
    (  # generic words, no place, different problem
        "housing",
        "Когда уже сделают нормальную воду, из крана течёт ржавчина",
        place(),
        "Когда уже сделают нормальное отопление, в квартире холодно",
        place(),
    ),
    (  # same street, garbage vs dogs
        "waste",
        "На Советской не вывозят мусор, контейнеры полные",
        place("Пузино", "Советская"),
        "На Советской бродячие собаки кидаются на детей",
        place("Пузино", "Советская"),
    ),
    (  # same street, lighting vs a bus stop
        "transport",
        "На Мира не горят фонари у остановки",
        place(AMZ, "Мира"),
        "На Мира автобус не приходит по расписанию",
        place(AMZ, "Мира"),
    ),
    (  # same village, no street on one side, different problem
        "housing",
        "В Амурзете нет воды на всей улице Ленина",
        place(AMZ, "Ленина"),
        "Амурзет, в школе холодно, не топят",
        place(AMZ),
    ),
]


def key(block: str, text: str, where: Place, *, at: datetime = T0) -> DupKey:
    return DupKey(block, where, tuple(content_words(text, where)), at)


@pytest.mark.parametrize(("block", "text_a", "place_a", "text_b", "place_b"), PAIRS)
def test_same_problem_told_differently_is_a_duplicate(
    block: str, text_a: str, place_a: Place, text_b: str, place_b: Place
) -> None:
    old = key(block, text_a, place_a)
    new = key(block, text_b, place_b, at=T0 + timedelta(hours=5))
    match = match_duplicate(new, old, old_id=1, threshold=THRESHOLD, window=WINDOW)
    assert match is not None


@pytest.mark.parametrize(("block", "text_a", "place_a", "text_b", "place_b"), NON_PAIRS)
def test_look_alikes_are_not_duplicates(
    block: str, text_a: str, place_a: Place, text_b: str, place_b: Place
) -> None:
    old = key(block, text_a, place_a)
    new = key(block, text_b, place_b, at=T0 + timedelta(hours=5))
    assert match_duplicate(new, old, old_id=1, threshold=THRESHOLD, window=WINDOW) is None


def test_reposted_text_matches_on_text_not_only_address() -> None:
    _, text_a, place_a, text_b, place_b = PAIRS[1]
    match = match_duplicate(
        key("housing", text_b, place_b),
        key("housing", text_a, place_a),
        old_id=7,
        threshold=THRESHOLD,
        window=WINDOW,
    )
    assert match is not None and match.reason == "text" and match.incident_id == 7


def test_outside_the_window_is_not_a_duplicate() -> None:
    block, text_a, place_a, text_b, place_b = PAIRS[0]
    old = key(block, text_a, place_a)
    assert match_duplicate(
        key(block, text_b, place_b, at=T0 + WINDOW - timedelta(minutes=1)),
        old,
        old_id=1,
        threshold=THRESHOLD,
        window=WINDOW,
    )
    late = key(block, text_b, place_b, at=T0 + WINDOW + timedelta(minutes=1))
    assert match_duplicate(late, old, old_id=1, threshold=THRESHOLD, window=WINDOW) is None


def test_another_block_is_never_a_duplicate() -> None:
    text = "Прорвало трубу на Ленина 12, вода хлещет"
    where = place(AMZ, "Ленина", "12")
    assert (
        match_duplicate(
            key("roads", text, where),
            key("housing", text, where),
            old_id=1,
            threshold=THRESHOLD,
            window=WINDOW,
        )
        is None
    )


def test_best_duplicate_prefers_a_text_match_over_an_address_match() -> None:
    new = key("housing", PAIRS[1][3], PAIRS[1][4])
    by_address = key("housing", "Что с водой на Центральной?", place("Пузино", "Центральная", None))
    by_text = key("housing", PAIRS[1][1], PAIRS[1][2])
    best = best_duplicate(new, [(1, by_address), (2, by_text)], threshold=THRESHOLD, window=WINDOW)
    assert best is not None and best.incident_id == 2


def test_best_duplicate_of_nothing_is_none() -> None:
    new = key("housing", PAIRS[0][1], PAIRS[0][2])
    assert best_duplicate(new, [], threshold=THRESHOLD, window=WINDOW) is None
