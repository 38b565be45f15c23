"""A live `mcu web` server on a prepared SQLite file, and Debian chromium via Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from collectors.repository import ensure_source
from config.reference import load_reference
from config.settings import CONFIG_DIR
from core.calendar import WorkCalendar
from core.db import make_engine, session_scope
from core.models import Classification, Message
from incidents.intake import IntakeSettings, intake_message

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def chromium_path() -> str | None:
    """Debian's chromium, if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass(frozen=True)
class LiveServer:
    url: str
    database_url: str


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`mcu web` in a subprocess on a migrated, seeded database with the demo accounts."""
    db = tmp_path_factory.mktemp("e2e") / "mcu.db"
    env = {**os.environ, "MCU_DATABASE_URL": f"sqlite:///{db}", "MCU_SECRET_KEY": "e2e"}
    prepare = (
        "from app.context import build_context; from core import migrate; "
        "from core.db import session_scope; from core.seed import seed_reference; "
        "from app.demo import ensure_demo_users; ctx = build_context(require_schema=False); "
        "migrate.upgrade(ctx.engine)\n"
        "with session_scope(ctx.engine) as s: seed_reference(s, ctx.config); ensure_demo_users(s)"
    )
    subprocess.run([sys.executable, "-c", prepare], env=env, cwd=REPO, check=True)
    port = _free_port()
    log_path = db.parent / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "web", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        log.close()
        raise RuntimeError(f"mcu web did not start: {log_path.read_text(errors='replace')}")
    yield LiveServer(url=url, database_url=env["MCU_DATABASE_URL"])
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Debian chromium; skipped with a reason when absent (failed in CI)."""
    path = chromium_path()
    if path is None:
        if os.environ.get("MCU_REQUIRE_BROWSER") == "1":
            pytest.fail("MCU_REQUIRE_BROWSER=1, but chromium is not installed")
        pytest.skip("chromium не установлен: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context and page per test."""
    context = browser.new_context(locale="ru-RU", viewport={"width": 1366, "height": 800})
    ARTIFACTS.mkdir(exist_ok=True)
    yield context.new_page()
    context.close()


@dataclass(frozen=True)
class E2EIncident:
    id: int
    number: str


def _intake_one(
    session: Session,
    *,
    source_id: int,
    text: str,
    block: str,
    top3: list[list[object]],
    review: bool,
) -> E2EIncident:
    """Store, classify and take in one message through the real intake service."""
    cfg = load_reference(CONFIG_DIR)
    calendar = WorkCalendar.from_mapping(cfg.calendar, tz=cfg.municipality.municipality.timezone)
    now = datetime.now(UTC) - timedelta(hours=1)
    msg = Message(
        source_id=source_id,
        external_id=uuid.uuid4().hex,
        author_name="Жительница Амурзета",
        text=text,
        created_at=now,
        received_at=now,
        status="new",
    )
    session.add(msg)
    session.flush()
    found = Classification(
        message_id=msg.id,
        block_code=block,
        confidence=float(str(top3[0][1])),
        top3=top3,
        needs_review=review,
        place={"settlement": "Амурзет", "street": "Ленина"},
        model_version="e2e",
    )
    session.add(found)
    session.flush()
    result = intake_message(
        session,
        message=msg,
        classification=found,
        settings=IntakeSettings.from_config(cfg.sla),
        calendar=calendar,
        now=now,
    )
    assert result.incident is not None and result.incident.number
    return E2EIncident(result.incident.id, result.incident.number)


@pytest.fixture(scope="session")
def e2e_incidents(live_server: LiveServer) -> dict[str, E2EIncident]:
    """Incidents in the live server's database, made by intake: one for triage, one for roads."""
    engine = make_engine(live_server.database_url)
    with session_scope(engine) as session:
        source = ensure_source(session, name="e2e-vk", kind="vk")
        made = {
            "triage": _intake_one(
                session,
                source_id=source.id,
                text="Течёт крыша в подъезде дома на Ленина, вода по стенам",
                block="property",
                top3=[["property", 0.41], ["housing", 0.39], ["construction", 0.1]],
                review=True,
            ),
            "roads": _intake_one(
                session,
                source_id=source.id,
                text="На Ленина огромная яма на проезжей части, машины объезжают по встречке",
                block="roads",
                top3=[["roads", 0.93]],
                review=False,
            ),
        }
    engine.dispose()
    return made
