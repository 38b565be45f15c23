"""`mcu web --workers N`: several processes serve the app, with Nagle's algorithm off."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.server import _no_delay

ROOT = Path(__file__).resolve().parents[3]


def test_no_delay_is_switched_on_for_sockets_bound_as_uvicorn_workers_bind_them() -> None:
    """uvicorn --workers binds with protocol 0, so asyncio leaves TCP_NODELAY off by itself."""
    seen: dict[str, int] = {}

    class Probe(asyncio.Protocol):
        def __init__(self, fix: bool) -> None:
            self.fix = fix

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            if self.fix:
                _no_delay(transport)
            sock = transport.get_extra_info("socket")
            key = "fixed" if self.fix else "plain"
            seen[key] = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            transport.close()

    async def connect(fix: bool) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
        listener.bind(("127.0.0.1", 0))
        server = await asyncio.get_running_loop().create_server(lambda: Probe(fix), sock=listener)
        port = listener.getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await reader.read()  # the probe closes the connection once it has looked
        writer.close()
        server.close()
        await server.wait_closed()

    async def both() -> None:
        await connect(False)
        await connect(True)

    asyncio.run(both())
    assert seen["fixed"] != 0
    # Shows the bug the protocol works around (if a future Python fixes it, only this goes).
    assert seen["plain"] == 0


@pytest.mark.timeout(120)
def test_mcu_web_with_two_workers_serves_pages(tmp_path: Path) -> None:
    env = os.environ | {
        "MCU_DATABASE_URL": f"sqlite:///{tmp_path / 'web.db'}",
        "MCU_VAR_DIR": str(tmp_path / "var"),
        "MCU_MODELS_DIR": str(tmp_path / "models"),
    }
    mcu = [sys.executable, "-m", "app.cli"]
    for step in (["db", "upgrade"], ["db", "seed"]):
        done = subprocess.run([*mcu, *step], env=env, cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [*mcu, "web", "--port", str(port), "--workers", "2"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                health = httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mcu web --workers 2 did not start:\n{log.read_text()}")
                time.sleep(0.3)
        assert health.status_code == 200
        with httpx.Client(base_url=base) as client:
            pages = [client.get("/login") for _ in range(6)]
        assert all(p.status_code == 200 and "Вход" in p.text for p in pages)
    finally:
        server.terminate()
        server.wait(timeout=30)
