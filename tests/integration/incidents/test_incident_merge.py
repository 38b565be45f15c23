"""Operators' corrections on a real database: merge two incidents, split a message out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import ConflictError
from core.models import Incident, IncidentEvent, User
from incidents.service import (
    intake_message,
    merge_incidents,
    split_message,
)

MON_10 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # Monday 2 March, 10:00 in UTC+10
GOOD_FINAL = "Порыв устранён 03.03.2026 бригадой МУП «Водоканал», водоснабжение восстановлено."
GOOD_INTERIM = "Бригада МУП «Водоканал» направлена, ремонт будет выполнен до 5 марта."


@pytest.fixture
def open_incident(incident_db, world, new_message, calendar, intake_settings):
    """A social-network incident routed to the ЖКХ department."""

    def make(kind: str = "vk", text: str = "Прорвало трубу на Ленина 12", **place: str) -> Incident:
        message, cls = new_message(kind=kind, text=text, received=MON_10, place=place)
        result = intake_message(
            incident_db,
            message=message,
            classification=cls,
            settings=intake_settings,
            calendar=calendar,
            now=MON_10,
        )
        assert result.incident is not None
        return result.incident

    return make


def history(session: Session, incident: Incident) -> list[tuple[str, str | None, str | None]]:
    stmt = (
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident.id)
        .order_by(IncidentEvent.id)
    )
    return [(e.action, e.from_status, e.to_status) for e in session.scalars(stmt)]


def test_merge_moves_messages_and_closes_the_source(incident_db, world, open_incident) -> None:
    target = open_incident()
    source = open_incident(text="Нет воды на Школьной", settlement="Пузино", street="Школьная")
    operator = incident_db.get(User, world.operator)
    merge_incidents(incident_db, target=target, source=source, actor=operator, now=MON_10)
    assert target.message_count == 2 and source.status == "closed" and source.message_count == 0
    assert history(incident_db, source)[-1] == ("merged_into", "assigned", "closed")
    assert history(incident_db, target)[-1][0] == "merged_from"
    with pytest.raises(ConflictError):
        merge_incidents(incident_db, target=target, source=source, actor=operator, now=MON_10)
    with pytest.raises(ConflictError):
        merge_incidents(incident_db, target=target, source=target, actor=operator, now=MON_10)


def test_split_takes_a_message_out_into_a_new_incident(
    incident_db, world, new_message, open_incident, calendar, intake_settings
) -> None:
    incident = open_incident(settlement="Амурзет", street="Ленина", house="12")
    message, cls = new_message(
        kind="telegram",
        text="На Ленина 12 всё ещё хлещет вода, и свет пропал",
        received=MON_10,
        place={"settlement": "Амурзет", "street": "Ленина", "house": "12"},
    )
    intake_message(
        incident_db,
        message=message,
        classification=cls,
        settings=intake_settings,
        calendar=calendar,
        now=MON_10,
    )
    assert message.incident_id == incident.id and incident.message_count == 2
    new = split_message(
        incident_db,
        message=message,
        actor=None,
        now=MON_10,
        calendar=calendar,
        settings=intake_settings,
    )
    assert new.id != incident.id and message.incident_id == new.id
    assert incident.message_count == 1 and new.message_count == 1 and new.status == "assigned"
    assert history(incident_db, incident)[-1][0] == "split_out"
    assert history(incident_db, new)[-1][0] == "split_from"
    with pytest.raises(ConflictError, match="одно сообщение"):
        split_message(
            incident_db,
            message=message,
            actor=None,
            now=MON_10,
            calendar=calendar,
            settings=intake_settings,
        )
