"""The bulk path of intake (one worker batch, plain rows, one statement per table) writes
what the same messages write one by one, on a longer mixed stream; joined incidents are
locked and loaded copies are refreshed."""

from __future__ import annotations

import random
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.models import AlertOutbox, Incident, IncidentEvent, Message
from incidents.batch import IntakeBatch
from incidents.intake import intake_message
from incidents.rules import format_number

MON_10 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # Monday 2 March, 10:00 in UTC+10
PLACES = [
    {},
    {"settlement": "Амурзет", "street": "Ленина", "house": "12"},
    {"settlement": "Амурзет", "street": "Ленина", "house": "14"},
    {"settlement": "Амурзет", "street": "Калинина"},
    {"settlement": "Пузино", "street": "Центральная"},
]
TEXTS = [
    ("housing", "Прорвало трубу, вода хлещет во двор"),
    ("housing", "Нет воды в колонке третий день"),
    ("housing", "В доме холодно, батареи ледяные"),
    ("roads", "Огромная яма на дороге, машины бьют колёса"),
    ("roads", "Грейдер не проходил, колеи по колено"),
    ("other", "Продам гараж недорого"),
]
KINDS = ("vk", "telegram", "pos", "email")


def _stream(seed: int, count: int) -> list[dict[str, Any]]:
    """Messages of one morning: repeats of recent ones, new ones, a few urgent or early."""
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(count):
        block, body = rng.choice(TEXTS)
        place = rng.choice(PLACES)
        if out and rng.random() < 0.4:
            old = rng.choice(out[-10:])
            block, body, place = old["block"], old["text"] + " Примите меры!", old["place"]
        minutes = i * 3 if rng.random() > 0.1 else -rng.randint(60, 600)
        out.append(
            {
                "kind": rng.choice(KINDS),
                "text": body,
                "received": MON_10 + timedelta(minutes=minutes),
                "block": block,
                "place": place,
                "urgent": rng.random() < 0.15,
                "noise": block == "other",
            }
        )
    return out


def _snapshot(session: Session, messages: list[Message], calendar: Any) -> dict[str, Any]:
    """What intake wrote, ids made relative (the sequences differ between the runs)."""
    session.expire_all()
    order = {m.id: k for k, m in enumerate(messages)}
    incidents = list(session.scalars(select(Incident).order_by(Incident.id)))
    ref = {incident.id: k for k, incident in enumerate(incidents)}

    def norm(value: dict[str, Any]) -> dict[str, Any]:
        out = dict(value)
        for key, table in (("message_id", order), ("incident_id", ref)):
            if isinstance(out.get(key), int):
                out[key] = table.get(out[key], "earlier")
        if "number" in out:
            out["number"] = out["number"] is not None
        return out

    def key(dedupe: str) -> str:
        return re.sub(r"^(\w+):(\d+)", lambda m: f"{m[1]}:{ref.get(int(m[2]))}", dedupe)

    columns = [c.key for c in Incident.__table__.columns if c.key not in ("id", "number")]
    events = session.scalars(select(IncidentEvent).order_by(IncidentEvent.id))
    alerts = session.scalars(select(AlertOutbox).order_by(AlertOutbox.id))
    return {
        "messages": [
            (ref.get(m.incident_id or -1), m.status)
            for m in session.scalars(
                select(Message).where(Message.id.in_(order)).order_by(Message.id)
            )
        ],
        "incidents": [
            [getattr(i, c) for c in columns]
            + [
                i.number
                == format_number(incident_id=i.id, received=i.received_at, calendar=calendar)
            ]
            for i in incidents
        ],
        "events": [
            (
                ref.get(e.incident_id),
                e.action,
                e.actor_id,
                e.at,
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
                a.status,
                a.next_attempt_at,
                norm(a.payload),
            )
            for a in alerts
        ],
    }


def _take(session: Session, pairs: list[Any], ctx: Any, batch: IntakeBatch | None) -> list[Any]:
    settings, calendar = ctx
    results = [
        intake_message(
            session,
            message=m,
            classification=c,
            settings=settings,
            calendar=calendar,
            now=MON_10 + timedelta(hours=2),
            batch=batch,
        )
        for m, c in pairs
    ]
    if batch is not None:
        batch.finish()
    return [(r.created, r.incident is not None, r.incident and r.incident.id) for r in results]


@pytest.mark.parametrize(("seed", "max_candidates"), [(1, 200), (2, 200), (3, 3)])
def test_the_bulk_path_writes_what_one_by_one_writes(
    incident_db, world, new_message, calendar, intake_settings, seed: int, max_candidates: int
) -> None:
    # Few candidates per block make the batch reload its pools (messages received earlier).
    ctx = (replace(intake_settings, max_candidates=max_candidates), calendar)
    # Incidents open before the batch, which its messages join (locked and updated in bulk).
    before = [new_message(**m) for m in _stream(seed + 100, 12)]
    _take(incident_db, before, ctx, None)
    runs = []
    for batched in (False, True):
        with incident_db.begin_nested() as savepoint:
            pairs = [new_message(**m) for m in _stream(seed, 80)]
            batch = IntakeBatch(incident_db) if batched else None
            outcome = _take(incident_db, pairs, ctx, batch)
            shape = [(created, known) for created, known, _id in outcome]
            runs.append((shape, _snapshot(incident_db, [m for m, _ in pairs], calendar)))
            savepoint.rollback()
        incident_db.expire_all()
    (one_by_one, alone), (bulk, together) = runs
    assert bulk == one_by_one
    for part in ("messages", "incidents", "events", "alerts"):
        differ = [(a, b) for a, b in zip(alone[part], together[part], strict=False) if a != b]
        assert not differ, (part, differ[:2])
    assert together == alone
    actions = {event[1] for event in alone["events"]}
    assert {"created", "assigned", "merged_message", "urgent_raised"} <= actions
    joined_before = {k for k, _status in alone["messages"] if k is not None and k < 12}
    assert joined_before  # some messages joined incidents opened before the batch


def test_a_loaded_incident_shows_what_the_batch_changed(
    incident_db, world, new_message, calendar, intake_settings
) -> None:
    place = {"settlement": "Амурзет", "street": "Ленина", "house": "12"}
    first = new_message(kind="vk", text="Прорвало трубу, вода хлещет", received=MON_10, place=place)
    incident = intake_message(
        incident_db,
        message=first[0],
        classification=first[1],
        settings=intake_settings,
        calendar=calendar,
        now=MON_10,
    ).incident
    assert isinstance(incident, Incident) and incident.message_count == 1
    again = new_message(
        kind="pos",
        text="Прорвало трубу, вода хлещет!",
        received=MON_10 + timedelta(minutes=5),
        place=place,
        urgent=True,
    )
    batch = IntakeBatch(incident_db)
    result = intake_message(
        incident_db,
        message=again[0],
        classification=again[1],
        settings=intake_settings,
        calendar=calendar,
        now=MON_10 + timedelta(minutes=5),
        batch=batch,
    )
    assert result.incident is None and result.match is not None  # decided, applied at finish
    batch.finish()
    assert result.incident is not None and result.incident.id == incident.id
    # The ORM copy loaded before is refreshed, not left stale (nor written back over it).
    assert incident.message_count == 2 and incident.urgent and incident.sla_policy == "social_high"
    incident_db.flush()
    stored = incident_db.execute(
        select(Incident.message_count, Incident.urgent).where(Incident.id == incident.id)
    ).one()
    assert tuple(stored) == (2, True)


def test_joined_incidents_stay_locked_until_commit(
    incident_db, incident_engine: Engine, world, new_message, calendar, intake_settings
) -> None:
    if incident_engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite has one writer")
    place = {"settlement": "Амурзет", "street": "Калинина"}
    first = new_message(
        kind="vk", text="Огромная яма на дороге", received=MON_10, place=place, block="roads"
    )
    first_result = intake_message(
        incident_db,
        message=first[0],
        classification=first[1],
        settings=intake_settings,
        calendar=calendar,
        now=MON_10,
    )
    assert first_result.incident is not None
    incident_id = first_result.incident.id
    incident_db.commit()  # visible to the other connection
    again = new_message(
        kind="vk", text="Огромная яма на дороге!", received=MON_10, place=place, block="roads"
    )
    batch = IntakeBatch(incident_db)
    intake_message(
        incident_db,
        message=again[0],
        classification=again[1],
        settings=intake_settings,
        calendar=calendar,
        now=MON_10,
        batch=batch,
    )
    batch.finish()
    assert again[0].incident_id == incident_id
    with incident_engine.connect() as other:
        with pytest.raises(OperationalError, match="could not obtain lock"):
            other.execute(
                text("SELECT id FROM incidents WHERE id = :id FOR UPDATE NOWAIT"),
                {"id": incident_id},
            )
        other.rollback()
    incident_db.rollback()


def test_a_message_taken_twice_in_a_batch_joins_once(
    incident_db, world, new_message, calendar, intake_settings
) -> None:
    place = {"settlement": "Амурзет", "street": "Ленина", "house": "12"}
    first = new_message(kind="vk", text="Прорвало трубу, вода хлещет", received=MON_10, place=place)
    _take(incident_db, [first], (intake_settings, calendar), None)
    again = new_message(
        kind="pos", text="Прорвало трубу, вода хлещет!", received=MON_10, place=place
    )
    batch = IntakeBatch(incident_db)
    outcome = _take(incident_db, [again, again], (intake_settings, calendar), batch)
    (_, _, joined_id), (created, known, same_id) = outcome
    assert not created and known and same_id == joined_id == first[0].incident_id
    stored = incident_db.scalar(select(Incident.message_count).where(Incident.id == joined_id))
    assert stored == 2
