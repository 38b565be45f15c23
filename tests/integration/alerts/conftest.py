"""Fixtures of the alerts tests: the fake Bot API, a fake clock and a small seeded world.

The world sits on the shared `seeded_session` (SQLite and PostgreSQL): one incident of the
ЖКХ department, an executor and a sector head linked to Telegram, a second executor and an
operator without links.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts.telegram import TelegramNotifier
from app.context import AppContext, load_calendar
from config.reference import ReferenceConfig
from config.settings import CONFIG_DIR, Settings
from core.db import session_factory
from core.models import AlertOutbox, Department, Incident, TelegramLink, User
from tests.integration.alerts.fake_bot_api import TOKEN, FakeBotApi

TZ = "Asia/Vladivostok"
BASE_URL = "https://mcu.example.ru"
# 2026-03-10 12:00 in Vladivostok (UTC+10): a working day, outside any quiet hours.
NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
EXEC_CHAT, HEAD_CHAT = 1001, 1002


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.t = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


@dataclass
class World:
    session: Session
    sessions: sessionmaker[Session]
    incident_id: int
    executor_id: int
    head_id: int
    other_executor_id: int
    operator_id: int

    def alert(
        self,
        *,
        user_id: int,
        kind: str = "assigned",
        urgent: bool = False,
        incident_id: int | None = None,
        at: datetime = NOW,
    ) -> int:
        """Write one pending outbox row (created at `at`) the way the incidents package does.

        The default kind is one that is sent at once; `new_incident` waits for the digest.
        """
        incident = self.session.get(Incident, incident_id or self.incident_id)
        assert incident is not None and incident.due_at is not None
        payload: dict[str, Any] = {
            "incident_id": incident.id,
            "number": incident.number,
            "block": incident.block_code,
            "title": incident.title,
            "settlement": incident.settlement,
            "due_at": incident.due_at.isoformat(),
        }
        n = self.session.scalar(select(AlertOutbox.id).order_by(AlertOutbox.id.desc())) or 0
        row = AlertOutbox(
            kind=kind,
            dedupe_key=f"{kind}:{incident.id}:{user_id}:{n + 1}",
            user_id=user_id,
            incident_id=incident.id,
            urgent=urgent,
            payload=payload,
            status="pending",
            next_attempt_at=at,
            created_at=at,
        )
        self.session.add(row)
        self.session.commit()
        return row.id

    def incident(self, number: str, title: str, settlement: str, due_in: timedelta) -> int:
        """Another open incident of the housing block (for digests)."""
        first = self.session.get(Incident, self.incident_id)
        assert first is not None
        incident = Incident(
            number=number,
            block_code="housing",
            title=title,
            status="new",
            settlement=settlement,
            department_id=first.department_id,
            sla_policy="portal",
            received_at=NOW - timedelta(minutes=30),
            due_at=NOW + due_in,
        )
        self.session.add(incident)
        self.session.commit()
        return incident.id

    def add_user(self, username: str, role: str, *, chat: int | None = None) -> int:
        """Another staff account, linked to `chat` when given."""
        user = _user(self.session, username, role, full_name=f"Сотрудник {username}")
        if chat is not None:
            self.session.add(
                TelegramLink(user_id=user.id, chat_id=chat, active=True, linked_at=NOW)
            )
        self.session.commit()
        return user.id

    def row(self, alert_id: int) -> AlertOutbox:
        """The row as committed now."""
        self.session.expire_all()
        row = self.session.get(AlertOutbox, alert_id)
        assert row is not None
        return row

    def link(self, user_id: int) -> TelegramLink | None:
        """The user's link as committed now."""
        self.session.expire_all()
        return self.session.scalar(select(TelegramLink).where(TelegramLink.user_id == user_id))


def _user(session: Session, username: str, role: str, **extra: Any) -> User:
    user = User(username=username, password_hash="x", role=role, **extra)
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def world(seeded_session: Session) -> World:
    """Users, links and one open incident on the seeded reference data."""
    s = seeded_session
    gkh = s.scalar(select(Department.id).where(Department.code == "gkh"))
    executor = _user(s, "ivanov", "executor", full_name="Иванов И. И.", department_id=gkh)
    other = _user(s, "petrov", "executor", full_name="Петров П. П.", department_id=gkh)
    head = _user(s, "head", "sector_head", full_name="Сидоров С. С.")
    operator = _user(s, "operator", "operator", full_name="Оператор")
    incident = Incident(
        number="2026-000042",
        block_code="housing",
        title='Нет воды <b>в доме</b> & "подвал"',
        status="new",
        settlement="с. Амурзет",
        department_id=gkh,
        sla_policy="portal",
        received_at=NOW - timedelta(hours=1),
        due_at=NOW + timedelta(hours=3, minutes=20),
    )
    s.add(incident)
    for user, chat in ((executor, EXEC_CHAT), (head, HEAD_CHAT)):
        s.add(TelegramLink(user_id=user.id, chat_id=chat, active=True, linked_at=NOW))
    s.commit()
    return World(
        session=s,
        sessions=session_factory(s.get_bind()),  # type: ignore[arg-type]
        incident_id=incident.id,
        executor_id=executor.id,
        head_id=head.id,
        other_executor_id=other.id,
        operator_id=operator.id,
    )


@pytest.fixture
def app_ctx(world: World, reference_config: ReferenceConfig, tmp_path: Path) -> AppContext:
    """The composition root on the test database; report files go under the test's tmp dir."""
    return AppContext(
        settings=Settings(secret_key="test", var_dir=tmp_path, base_url=BASE_URL),
        config=reference_config,
        engine=world.session.get_bind(),  # type: ignore[arg-type]
        calendar=load_calendar(reference_config, tz=TZ, config_dir=str(CONFIG_DIR)),
        tz=TZ,
    )


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBotApi]:
    """A running fake Bot API; MCU_TELEGRAM_* point at it."""
    with FakeBotApi() as api:
        monkeypatch.setenv("MCU_TELEGRAM_API_BASE", api.base_url)
        monkeypatch.setenv("MCU_TELEGRAM_TOKEN", TOKEN)
        yield api


@pytest.fixture
def clock(fake_api: FakeBotApi) -> FakeClock:
    """The fake clock, also stamping each request the fake server receives."""
    fake = FakeClock()
    fake_api.stamp = fake
    return fake


def make_notifier() -> TelegramNotifier:
    """A real aiogram notifier configured from MCU_TELEGRAM_* (the fake server)."""
    settings = Settings()
    assert settings.telegram_token is not None
    return TelegramNotifier.create(settings.telegram_token, settings.telegram_api_base)
