"""A batch of intake decides and writes exactly what the same messages do one by one."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import AlertOutbox, Classification, Incident, IncidentEvent, Message
from incidents.batch import IntakeBatch
from incidents.intake import IntakeSettings, intake_message
from incidents.rules import format_number

MON_10 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # Monday 2 March, 10:00 in UTC+10
AMZ = {"settlement": "Амурзет", "street": "Ленина", "house": "12"}
PUZINO = {"settlement": "Пузино", "street": "Центральная"}

# (kind, text, minutes after 10:00, block, place, urgent): duplicates of incidents opened
# earlier in the batch and before it, an urgent duplicate, noise, another village, and one
# message received earlier than the others (its window reaches further back).
STREAM: list[tuple[str, str, int, str, dict[str, str], bool]] = [
    ("vk", "Прорвало трубу на Ленина 12, вода хлещет", 0, "housing", AMZ, False),
    (
        "pos",
        "Порыв водопровода у дома 12 по улице Ленина, топит двор",
        5,
        "housing",
        {"settlement": "Амурзет", "street": "ул. Ленина"},
        False,
    ),
    ("email", "Прорвало трубу на Ленина 12, вода хлещет!", 10, "housing", {}, False),
    ("vk", "Срочно! На Ленина 12 в Амурзете хлещет вода из трубы", 12, "housing", AMZ, True),
    ("vk", "Продам гараж недорого", 15, "other", {}, False),
    (
        "telegram",
        "Огромная яма на Калинина у школы, машины бьют колёса",
        20,
        "roads",
        {"settlement": "Амурзет", "street": "Калинина"},
        False,
    ),
    ("pos", "Нет воды в колонке", 25, "housing", PUZINO, False),
    ("vk", "Нет воды в колонке", 30, "housing", {"settlement": "Полевое", "street": "Мира"}, False),
    ("vk", "Третий день нет воды в колонке на Центральной", 35, "housing", PUZINO, True),
    (
        "email",
        "В школе на Советской холодно, батареи ледяные",
        -600,
        "housing",
        {"settlement": "Амурзет", "street": "Советская"},
        False,
    ),
    (
        "vk",
        "На Советской в школе батареи ледяные, дети мёрзнут",
        40,
        "housing",
        {"settlement": "Амурзет", "street": "Советская"},
        False,
    ),
    (
        "telegram",
        "Яма на Калинина возле школы, колёса бьют",
        45,
        "roads",
        {"settlement": "Амурзет", "street": "Калинина"},
        False,
    ),
]
BEFORE = (
    "vk",
    "Грейдер не проходил по Садовой, колеи по колено",
    -60,
    "roads",
    {"settlement": "Амурзет", "street": "Садовая"},
    False,
)
AGAIN = (
    "telegram",
    "По Садовой не проходил грейдер, колеи по колено",
    50,
    "roads",
    {"settlement": "Амурзет", "street": "Садовая"},
    False,
)


def _messages(
    new_message: Any, items: list[tuple[str, str, int, str, dict[str, str], bool]]
) -> list[Any]:
    made = []
    for kind, text, minutes, block, place, urgent in items:
        received = MON_10 + timedelta(minutes=minutes)
        made.append(
            new_message(
                kind=kind,
                text=text,
                received=received,
                block=block,
                place=place,
                urgent=urgent,
                noise=block == "other",
            )
        )
    return made


def _snapshot(session: Session, messages: list[Message], calendar: Any) -> dict[str, Any]:
    """What intake wrote, with ids made relative (sequences differ between the runs)."""
    session.flush()
    order = {m.id: k for k, m in enumerate(messages)}
    incidents = list(session.scalars(select(Incident).order_by(Incident.id)))
    ref = {incident.id: k for k, incident in enumerate(incidents)}

    def norm(value: Any) -> Any:
        if isinstance(value, dict):
            out = {k: norm(v) for k, v in value.items()}
            if "message_id" in out and isinstance(value["message_id"], int):
                out["message_id"] = order.get(value["message_id"], "earlier")
            if "incident_id" in out:
                out["incident_id"] = ref.get(value["incident_id"])
            if "number" in out:
                out["number"] = value["number"] is not None
            return out
        return value

    def key(dedupe: str) -> str:
        return re.sub(r"^(\w+):(\d+)", lambda m: f"{m[1]}:{ref.get(int(m[2]))}", dedupe)

    events = session.scalars(select(IncidentEvent).order_by(IncidentEvent.id))
    alerts = session.scalars(select(AlertOutbox).order_by(AlertOutbox.id))
    return {
        "messages": [(ref.get(m.incident_id or -1), m.status) for m in messages],
        "incidents": [
            (
                i.block_code,
                i.status,
                i.urgent,
                i.settlement,
                i.street,
                i.house,
                i.department_id,
                i.executor_id,
                i.sla_policy,
                i.received_at,
                i.first_answer_due_at,
                i.final_due_at,
                i.due_at,
                i.escalation_level,
                i.message_count,
                i.text_fingerprint,
                i.updated_at,
                i.number
                == format_number(incident_id=i.id, received=i.received_at, calendar=calendar),
            )
            for i in incidents
        ],
        "events": [
            (
                ref.get(e.incident_id),
                e.action,
                e.from_status,
                e.to_status,
                e.reason,
                norm(e.payload),
            )
            for e in events
        ],
        "alerts": [
            (
                a.kind,
                key(a.dedupe_key),
                a.user_id,
                ref.get(a.incident_id or -1),
                a.urgent,
                norm(a.payload),
            )
            for a in alerts
        ],
    }


def _take(
    session: Session,
    pairs: list[Any],
    settings: IntakeSettings,
    calendar: Any,
    batch: IntakeBatch | None,
) -> list[tuple[bool, bool]]:
    results = [
        intake_message(
            session,
            message=m,
            classification=c,
            settings=settings,
            calendar=calendar,
            now=MON_10 + timedelta(hours=1),
            batch=batch,
        )
        for m, c in pairs
    ]
    if batch is not None:
        batch.finish()
    return [(r.created, r.incident is not None) for r in results]


@pytest.mark.parametrize("max_candidates", [200, 2, 1])
def test_a_batch_writes_what_one_by_one_writes(
    incident_db, world, new_message, calendar, intake_settings, max_candidates: int
) -> None:
    settings = replace(intake_settings, max_candidates=max_candidates)
    before = _messages(new_message, [BEFORE])
    _take(incident_db, before, settings, calendar, None)
    runs = []
    for batched in (False, True):
        with incident_db.begin_nested() as savepoint:
            pairs = _messages(new_message, [*STREAM, AGAIN])
            batch = IntakeBatch(incident_db) if batched else None
            outcome = _take(incident_db, pairs, settings, calendar, batch)
            runs.append((outcome, _snapshot(incident_db, [m for m, _ in pairs], calendar)))
            savepoint.rollback()
        incident_db.expire_all()
    (one_by_one, alone), (batched, together) = runs
    assert batched == one_by_one and together == alone
    if max_candidates == 200:
        links = [k for k, _status in alone["messages"]]
        assert links[0] == links[1] == links[2] == links[3]  # address, text, urgent duplicate
        assert links[12] == 0  # joined the incident opened before the batch
        assert alone["incidents"][links[0]][2] is True  # made urgent by the 4th message
        assert [kind for kind, *_ in alone["alerts"]].count("urgent") >= 1


def test_ids_numbers_and_links_are_known_after_finish(
    incident_db, world, new_message, calendar, intake_settings
) -> None:
    pairs = _messages(new_message, STREAM[:3])
    batch = IntakeBatch(incident_db)
    results = [
        intake_message(
            incident_db,
            message=m,
            classification=c,
            settings=intake_settings,
            calendar=calendar,
            now=MON_10,
            batch=batch,
        )
        for m, c in pairs
    ]
    incident = results[0].incident
    assert incident is not None and incident.id is None and pairs[1][0].incident_id is None
    batch.finish()
    assert incident.id is not None and incident.number == f"МЦУ-2026-{incident.id:06d}"
    assert all(m.incident_id == incident.id and m.status == "linked" for m, _ in pairs)
    assert results[1].match is not None and results[1].match.incident_id == incident.id
    assert incident.updated_at == MON_10  # not the clock: the number UPDATE keeps `now`
    incident_db.expire_all()
    stored = incident_db.get(Incident, incident.id)
    assert stored is not None and stored.message_count == 3 and stored.number == incident.number
    assert (
        incident_db.scalar(select(Message.status).where(Message.id == pairs[2][0].id)) == "linked"
    )


def test_classifications_saved_by_a_batch_are_written_at_finish(
    incident_db, world, new_message, calendar, intake_settings
) -> None:
    ((message, _cls),) = _messages(new_message, STREAM[:1])
    fresh = Classification(
        message_id=message.id, block_code="housing", confidence=0.7, place={}, model_version="batch"
    )
    batch = IntakeBatch(incident_db)
    batch.save_classification(fresh)
    batch.finish()
    stmt = select(Classification.model_version).where(Classification.message_id == message.id)
    assert sorted(incident_db.scalars(stmt)) == ["batch", "test"]
