"""Place extraction: settlements, streets and houses from the gazetteer, in any case form."""

from __future__ import annotations

import pytest

from classifier.place import Gazetteer, Place, extract_place

GAZETTEER = Gazetteer.from_mapping(
    {
        "settlements": [
            {
                "name": "Амурзет",
                "kind": "село",
                "aliases": ["Amurzet"],
                "streets": [
                    {"name": "Ленина", "kind": "улица"},
                    {"name": "Советская", "kind": "улица"},
                    {"name": "60 лет СССР", "kind": "улица"},
                    {"name": "Лесной", "kind": "переулок"},
                ],
            },
            {"name": "Екатерино-Никольское", "kind": "село", "streets": []},
            {"name": "Полевое", "kind": "село", "streets": [{"name": "Мира", "kind": "улица"}]},
        ]
    }
)


def _values(place: Place) -> tuple[str | None, str | None, str | None]:
    d = place.to_dict()
    return d["settlement"], d["street"], d["house"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("на Ленина 15 нет света", (None, "Ленина", "15")),
        ("На ул. Ленина 15 в Амурзете прорвало трубу", ("Амурзет", "Ленина", "15")),
        ("Ленина 15а, подъезд 2", (None, "Ленина", "15а")),
        ("ул. Ленина, д. 15 а", (None, "Ленина", "15 а")),
        ("ул. Ленина, д. 15", (None, "Ленина", "15")),
        ("улица Ленина дом 15 кв 3", (None, "Ленина", "15")),
        ("в Амурзете нет воды", ("Амурзет", None, None)),
        ("автобус из Амурзета не пришёл", ("Амурзет", None, None)),
        ("пос. Екатерино-Никольское", ("Екатерино-Никольское", None, None)),
        ("в Екатерино-Никольском яма", ("Екатерино-Никольское", None, None)),
        ("с. Полевое, нет света", ("Полевое", None, None)),
        ("в Полевом третий день без воды", ("Полевое", None, None)),
        ("по 60 лет СССР 3 прорвало трубу", (None, "60 лет СССР", "3")),
        ("В Амурзете на ул.Советской, 12/1 не горит фонарь", ("Амурзет", "Советская", "12/1")),
        ("по Лесному переулку 4 не проехать", (None, "Лесной", "4")),
    ],
)
def test_extracts_known_places(text: str, expected: tuple[str | None, ...]) -> None:
    assert _values(extract_place(text, GAZETTEER)) == expected


def test_spans_point_into_the_original_text() -> None:
    text = "В Амурзёте по ул. Ленина д. 7"
    place = extract_place(text, GAZETTEER)
    assert place.settlement is not None and place.street is not None and place.house is not None
    assert text[place.settlement.start : place.settlement.end] == "Амурзёте"
    assert text[place.street.start : place.street.end] == "ул. Ленина"
    assert text[place.house.start : place.house.end] == "7"


@pytest.mark.parametrize(
    "text",
    [
        "на улице Пушкина 5 яма",  # street not in the gazetteer
        "дом 15 разрушается",  # a house number without a street
        "полевые работы идут",  # a common word, not the village
        "в полевом лагере",  # lowercase common adjective
        "по советской традиции",  # lowercase common adjective, no street kind
        "",
    ],
)
def test_does_not_invent_places(text: str) -> None:
    assert _values(extract_place(text, GAZETTEER)) == (None, None, None)


def test_empty_gazetteer_finds_nothing() -> None:
    empty = Gazetteer.from_mapping({})
    assert extract_place("в Амурзете на Ленина 5", empty) == Place()
