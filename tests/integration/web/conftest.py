"""A small municipality for the page tests: staff of every role and incidents made by intake.

Incidents go through the real `incidents.intake_message` (routing, numbers, deadlines), so
the pages see what production would store. Runs on SQLite and PostgreSQL via `seeded_session`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from config.reference import ReferenceConfig
from config.settings import Settings
from core.calendar import WorkCalendar
from core.models import (
    Classification,
    Department,
    Incident,
    Message,
    RoutingRule,
    Source,
    User,
    UserBlock,
)
from incidents.intake import IntakeSettings, intake_message
from web.app import create_app
from web.auth import hash_password

PASSWORD = "secret-pass-1"
TZ = "Asia/Vladivostok"
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
XSS_ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"

# username: (role, department code, blocks)
STAFF = {
    "admin": ("admin", None, ()),
    "operator": ("operator", None, ()),
    "coordinator": ("coordinator", None, ()),
    "head": ("head", None, ()),
    "roads_head": ("sector_head", None, ("roads",)),
    "social_head": ("sector_head", None, ("social",)),
    "exec_gkh": ("executor", "gkh", ()),
    "exec_roads": ("executor", "roads_transport", ()),
}


@lru_cache(maxsize=1)
def password_hash() -> str:
    """One argon2 hash for every test account (hashing is deliberately slow)."""
    return hash_password(PASSWORD)


@dataclass
class WebWorld:
    session: Session
    calendar: WorkCalendar
    intake: IntakeSettings
    tmp: Path
    users: dict[str, User] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    source: Source | None = None

    def add_incident(
        self,
        key: str,
        *,
        text: str,
        block: str,
        author: str = "Житель",
        settlement: str | None = "Амурзет",
        hours_ago: float = 2,
        confidence: float = 0.8,
        top3: list[list[object]] | None = None,
    ) -> Incident:
        """Store a VK message, classify it and run intake; commits."""
        now = datetime.now(UTC)
        assert self.source is not None
        msg = Message(
            source_id=self.source.id,
            external_id=uuid.uuid4().hex,
            author_name=author,
            text=text,
            created_at=now - timedelta(hours=hours_ago),
            received_at=now - timedelta(hours=hours_ago),
            place_text=settlement,
            status="new",
        )
        self.session.add(msg)
        self.session.flush()
        found = Classification(
            message_id=msg.id,
            block_code=block,
            confidence=confidence,
            top3=top3 or [[block, confidence]],
            place={"settlement": settlement} if settlement else {},
            model_version="test",
        )
        self.session.add(found)
        self.session.flush()
        result = intake_message(
            self.session,
            message=msg,
            classification=found,
            settings=self.intake,
            calendar=self.calendar,
            now=now - timedelta(hours=hours_ago),
        )
        assert result.incident is not None and result.created
        self.session.commit()
        # Intake hands back its plain row; the tests read and change the ORM incident.
        incident = self.session.get(Incident, result.incident.id)
        assert incident is not None
        self.incidents[key] = incident
        return incident


def _add_staff(session: Session) -> dict[str, User]:
    depts = {d.code: d.id for d in session.scalars(select(Department))}
    users = {}
    for username, (role, dept, blocks) in STAFF.items():
        user = User(
            username=username,
            full_name=f"Сотрудник {username}",
            role=role,
            password_hash=password_hash(),
            department_id=depts[dept] if dept else None,
        )
        session.add(user)
        session.flush()
        session.add_all(UserBlock(user_id=user.id, block_code=b) for b in blocks)
        users[username] = user
    return users


@pytest.fixture
def web_world(
    seeded_session: Session, reference_config: ReferenceConfig, tmp_path: Path
) -> WebWorld:
    """Staff, a VK source and incidents: housing (XSS text and author), roads, social, new."""
    session = seeded_session
    # No routing rule for «property»: its incidents wait in the operators' queue as «new».
    session.execute(delete(RoutingRule).where(RoutingRule.block_code == "property"))
    world = WebWorld(
        session=session,
        calendar=WorkCalendar.from_mapping(reference_config.calendar, tz=TZ),
        intake=IntakeSettings.from_config(reference_config.sla),
        tmp=tmp_path,
    )
    world.users = _add_staff(session)
    world.source = Source(name="vk-test", kind="vk")
    session.add(world.source)
    session.commit()
    world.add_incident("housing", text=f"Прорыв трубы {XSS}", block="housing", author=XSS)
    world.add_incident("roads", text="Глубокая яма на дороге у школы", block="roads")
    world.add_incident("social", text="Не работает кружок в доме культуры", block="social")
    world.add_incident(
        "queue",
        text="Протекает крыша многоквартирного дома",
        block="property",
        confidence=0.41,
        top3=[["property", 0.41], ["housing", 0.39], ["construction", 0.1]],
    )
    return world


def _csrf_of(client: TestClient, path: str) -> str:
    page = client.get(path)
    found = re.search(r'name="csrf(?:-token)?" (?:value|content)="([^"]+)"', page.text)
    assert found, f"{path} carries a CSRF token"
    return found.group(1)


@dataclass
class Web:
    """The application under test, its world, and helpers to act as a signed-in user."""

    client: TestClient
    world: WebWorld
    token: str = ""

    def login(self, username: str, password: str = PASSWORD) -> None:
        """Sign in (a fresh session) and remember its CSRF token."""
        form = {
            "username": username,
            "password": password,
            "csrf": _csrf_of(self.client, "/login"),
            "next": "/",
        }
        response = self.client.post("/login", data=form, follow_redirects=False)
        assert response.status_code == 303, response.text[:300]
        self.token = _csrf_of(self.client, "/login")

    def post(
        self, path: str, data: Mapping[str, object] | None = None, **kwargs: object
    ) -> Response:
        """POST a form with the session's CSRF token; redirects are not followed."""
        body = {"csrf": self.token} | dict(data or {})
        return self.client.post(path, data=body, follow_redirects=False, **kwargs)

    def fresh(self, key: str) -> Incident:
        """The incident as stored now (the app wrote it through its own session)."""
        session = self.world.session
        session.expire_all()
        found = session.get(Incident, self.world.incidents[key].id)
        assert found is not None
        return found


@pytest.fixture
def web(web_world: WebWorld) -> Iterator[Web]:
    """A TestClient on the full application (uploads under the test's tmp dir)."""
    settings = Settings(secret_key="test-secret", var_dir=web_world.tmp)
    app = create_app(settings, engine=web_world.session.get_bind())  # type: ignore[arg-type]
    with TestClient(app) as client:
        yield Web(client=client, world=web_world)


def engine_of(web: Web) -> Engine:
    """The engine the application and the test's session share."""
    engine = web.world.session.get_bind()
    assert isinstance(engine, Engine)
    return engine


@pytest.fixture
def pg_web(web: Web) -> Web:
    """The application on PostgreSQL only: the page cache and what requests of one data
    version share key by PostgreSQL's snapshot (web.response_cache); SQLite has none."""
    if engine_of(web).dialect.name != "postgresql":
        pytest.skip("the data version is PostgreSQL's snapshot; SQLite has none")
    return web


@pytest.fixture
def other(pg_web: Web) -> Iterator[Web]:
    """A second browser on the same application (the same stored pages and memo)."""
    client = TestClient(pg_web.client.app)
    try:
        yield Web(client=client, world=pg_web.world)
    finally:
        client.close()
