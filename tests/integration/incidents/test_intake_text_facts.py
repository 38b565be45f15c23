"""Text facts worked out ahead (by the classification helper) give the incident intake gives
without them: same title, fingerprint, place and deadlines."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from core.calendar import WorkCalendar
from core.models import Incident
from incidents.dedupe import content_words, parse_place
from incidents.intake import IntakeSettings, TextFacts, intake_message, text_facts
from incidents.text import make_title, merge_fingerprints

PLACE = {
    "settlement": {"value": "Амурзет"},
    "street": {"value": "Ленина"},
    "house": {"value": "12"},
}
TEXT = "Прорвало трубу на Ленина 12 в Амурзете, вода хлещет прямо на дорогу, весь двор залит"
MON_10 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def test_text_facts_are_the_place_words_title_and_fingerprint_intake_works_out() -> None:
    place = parse_place(PLACE)
    words = tuple(content_words(TEXT, place))
    assert words and "трубу" in words and "ленина" not in words  # the street is place
    assert text_facts(TEXT, PLACE) == TextFacts(place, words)  # title and fingerprint: later
    full = text_facts(TEXT, PLACE, for_new=True)
    assert full == TextFacts(place, words, make_title(TEXT), merge_fingerprints([" ".join(words)]))


def _fields(incident: Incident) -> tuple[Any, ...]:
    return (
        incident.title,
        incident.text_fingerprint,
        (incident.settlement, incident.street, incident.house),
        incident.block_code,
        incident.sla_policy,
        incident.first_answer_due_at,
        incident.department_id,
    )


def test_an_incident_opened_with_text_facts_given_equals_one_opened_without(
    incident_db: Session,
    world: object,
    new_message: Any,
    calendar: WorkCalendar,
    intake_settings: IntakeSettings,
) -> None:
    opened = []
    for given in (text_facts(TEXT, PLACE, for_new=True), None):
        savepoint = incident_db.begin_nested()
        message, cls = new_message(kind="vk", text=TEXT, received=MON_10, place=PLACE)
        result = intake_message(
            incident_db,
            message=message,
            classification=cls,
            settings=intake_settings,
            calendar=calendar,
            now=MON_10,
            text=given,
        )
        assert result.created and isinstance(result.incident, Incident)
        opened.append(_fields(result.incident))
        savepoint.rollback()  # the second opens the same incident again, not a duplicate
    with_facts, without = opened
    assert with_facts == without
    assert with_facts[2] == ("Амурзет", "Ленина", "12") and "трубу" in (with_facts[1] or "")
