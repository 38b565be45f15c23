"""Own fixtures of the incidents integration tests: schema by create_all, a few seeded rows.

`incident_db` is a session on an empty schema (SQLite file, and a private PostgreSQL schema
at MCU_TEST_DATABASE_URL when reachable); `world` seeds blocks, departments, users, routing
rules, SLA policies and sources, and returns their ids.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from core.calendar import WorkCalendar
from core.db import make_engine, session_factory
from core.models import (
    Base,
    Block,
    Classification,
    Department,
    Message,
    RoutingRule,
    SlaPolicy,
    Source,
    User,
    UserBlock,
)
from incidents.escalation import EscalationSettings
from incidents.intake import IntakeSettings
from tests.pg import private_schema

TZ = "Asia/Vladivostok"
CALENDAR = {
    "work_hours": {
        "start": "09:00",
        "end": "18:00",
        "lunch_start": "13:00",
        "lunch_end": "14:00",
        "shortened_by_minutes": 60,
    },
    "years": {
        2026: {
            "holidays": [date(2026, 1, d) for d in (1, 2, 5, 6, 7, 8, 9)]
            + [
                date(2026, 2, 23),
                date(2026, 3, 9),
                date(2026, 5, 1),
                date(2026, 5, 11),
                date(2026, 6, 12),
                date(2026, 11, 4),
                date(2026, 12, 31),
            ],
            "working_weekends": [],
            "shortened": [
                date(2026, 4, 30),
                date(2026, 5, 8),
                date(2026, 6, 11),
                date(2026, 11, 3),
            ],
        }
    },
}
ASSIGNMENT = {
    "vk": {"normal": "social_normal", "urgent": "social_high"},
    "telegram": {"normal": "social_normal", "urgent": "social_high"},
    "pos": {"normal": "portal", "urgent": "social_high"},
    "email": {"normal": "fz59", "urgent": "social_high"},
}


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def incident_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A schema made by create_all, once per backend per session."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('incidents') / 'test.db'}")
        Base.metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    with private_schema("mcu_incidents") as engine:
        Base.metadata.create_all(engine)
        yield engine


def _wipe(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(tables) + " RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture
def incident_db(incident_engine: Engine) -> Iterator[Session]:
    """A session on an empty schema (SQLite and PostgreSQL)."""
    _wipe(incident_engine)
    session = session_factory(incident_engine)()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


@dataclass
class World:
    """Ids of the seeded rows."""

    gkh: int
    roads: int
    sources: dict[str, int]
    executor: int
    executor2: int
    puzino_executor: int
    roads_executor: int
    housing_head: int
    coordinator: int
    operator: int


def _user(session: Session, username: str, role: str, department_id: int | None = None) -> int:
    user = User(
        username=username,
        full_name=username,
        password_hash="x",
        role=role,
        department_id=department_id,
    )
    session.add(user)
    session.flush()
    return user.id


@pytest.fixture
def world(incident_db: Session) -> World:
    """Blocks, two departments, users of every role, routing rules, SLA policies, sources."""
    s = incident_db
    for code in ("housing", "roads", "emergency", "other"):
        s.add(Block(code=code, name=code))
    s.add_all(
        [
            SlaPolicy(
                code="social_high",
                name="Соцсети, высокая",
                first_answer_working_hours=4,
                final_answer_working_days=7,
            ),
            SlaPolicy(
                code="social_normal",
                name="Соцсети, обычная",
                first_answer_working_hours=8,
                final_answer_working_days=7,
            ),
            SlaPolicy(code="portal", name="ПОС", final_answer_working_days=10),
            SlaPolicy(
                code="fz59", name="59-ФЗ", final_answer_calendar_days=30, extension_calendar_days=30
            ),
        ]
    )
    gkh, roads = Department(code="gkh", name="Отдел ЖКХ"), Department(code="roads", name="Дороги")
    s.add_all([gkh, roads])
    s.flush()
    sources = {}
    for kind in ("vk", "telegram", "pos", "email"):
        src = Source(kind=kind, name=f"{kind}-source")
        s.add(src)
        s.flush()
        sources[kind] = src.id
    w = World(
        gkh=gkh.id,
        roads=roads.id,
        sources=sources,
        executor=_user(s, "ivanov", "executor", gkh.id),
        executor2=_user(s, "petrova", "executor", gkh.id),
        puzino_executor=_user(s, "sidorov", "executor", gkh.id),
        roads_executor=_user(s, "dorozhnik", "executor", roads.id),
        housing_head=_user(s, "zam", "sector_head"),
        coordinator=_user(s, "koord", "coordinator"),
        operator=_user(s, "operator", "operator"),
    )
    s.add(UserBlock(user_id=w.housing_head, block_code="housing"))
    s.add_all(
        [
            RoutingRule(block_code="housing", department_id=gkh.id),
            RoutingRule(
                block_code="housing",
                settlement="Пузино",
                department_id=gkh.id,
                executor_id=w.puzino_executor,
            ),
            RoutingRule(block_code="roads", department_id=roads.id),
        ]
    )
    s.flush()
    return w


@pytest.fixture(scope="session")
def calendar() -> WorkCalendar:
    """The 2026 production calendar in UTC+10."""
    return WorkCalendar.from_mapping(CALENDAR, tz=TZ)


@pytest.fixture(scope="session")
def intake_settings() -> IntakeSettings:
    """Default intake settings with the sla.yaml assignment."""
    return IntakeSettings(sla_assignment=ASSIGNMENT)


@pytest.fixture(scope="session")
def escalation_settings() -> EscalationSettings:
    """Reminders at 50 % and 80 %, the coordinator after 4 working hours overdue."""
    return EscalationSettings(remind_at=(0.5, 0.8), coordinator_after_overdue_working_hours=4)


class MessageFactory(Protocol):
    """Signature of the `new_message` fixture."""

    def __call__(
        self,
        *,
        kind: str,
        text: str,
        received: datetime,
        block: str = "housing",
        place: dict[str, Any] | None = None,
        urgent: bool = False,
        needs_review: bool = False,
        noise: bool = False,
    ) -> tuple[Message, Classification]: ...


@pytest.fixture
def new_message(incident_db: Session, world: World) -> MessageFactory:
    """Store a message with its classification."""
    counter = iter(range(1, 10**9))

    def make(
        *,
        kind: str,
        text: str,
        received: datetime,
        block: str = "housing",
        place: dict[str, Any] | None = None,
        urgent: bool = False,
        needs_review: bool = False,
        noise: bool = False,
    ) -> tuple[Message, Classification]:
        message = Message(
            source_id=world.sources[kind],
            external_id=f"m{next(counter)}",
            text=text,
            created_at=received,
            received_at=received,
            status="classified",
        )
        incident_db.add(message)
        incident_db.flush()
        classification = Classification(
            message_id=message.id,
            block_code=block,
            confidence=0.9,
            urgent=urgent,
            noise=noise,
            needs_review=needs_review,
            place=place or {},
            model_version="test",
            created_at=received,
        )
        incident_db.add(classification)
        incident_db.flush()
        return message, classification

    return make
