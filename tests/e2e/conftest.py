"""A live `mcu web` server on a prepared SQLite file, and Debian chromium via Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

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
        "from app.demo import ensure_demo_users; ctx = build_context(); "
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
def page(browser: object) -> Iterator[object]:
    """A fresh browser context and page per test."""
    context = browser.new_context(locale="ru-RU", viewport={"width": 1366, "height": 800})  # type: ignore[attr-defined]
    ARTIFACTS.mkdir(exist_ok=True)
    yield context.new_page()
    context.close()
