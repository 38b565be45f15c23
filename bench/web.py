"""Benchmark: web latency under concurrent clients with N incidents on PostgreSQL.

Loads N incidents (one message each) into the schema `bench_web` with COPY, starts
`uvicorn` (one process) on 127.0.0.1 in a subprocess, signs in as an operator and measures
p50/p99 of /triage, /incidents/{id} and GET /api/v1/incidents against /healthz as the
baseline, from `--clients` concurrent httpx clients. Prints figures, asserts nothing; the
schema is dropped at the end.

    .venv/bin/python bench/web.py [--n 1000000] [--clients 50] [--requests 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# `python bench/web.py` puts bench/ first on sys.path, where this file shadows the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import Engine, select, text  # noqa: E402

from config.reference import load_reference  # noqa: E402
from config.settings import CONFIG_DIR  # noqa: E402
from core import migrate  # noqa: E402
from core.db import make_engine, session_scope  # noqa: E402
from core.models import Department, Settlement, Source, User  # noqa: E402
from core.seed import seed_reference  # noqa: E402
from web.auth import hash_password  # noqa: E402

PG_URL = os.environ.get(
    "MCU_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SCHEMA = "bench_web"
PASSWORD = "bench-password"
BLOCKS = (
    *("housing", "energy", "waste", "roads", "transport", "construction", "economy"),
    *("consumer", "agriculture", "property", "social", "emergency"),
)
# (status, weight) of the last RECENT_DAYS; older incidents of the archive are all finished.
STATUSES = (
    ("closed", 40), ("resolved", 20), ("rejected", 4), ("answered", 12), ("assigned", 10),
    ("in_progress", 6), ("paused", 2), ("new", 5), ("reopened", 1),
)  # fmt: skip
FINISHED = (("closed", 70), ("resolved", 25), ("rejected", 5))
RECENT_DAYS = 45
ARCHIVE_DAYS = 730
OPEN = {"answered", "assigned", "in_progress", "paused", "new", "reopened"}
INC_COLS = (
    "id", "number", "block_code", "title", "status", "urgent", "needs_review", "settlement",
    "lat", "lon", "department_id", "sla_policy", "received_at", "due_at", "reopen_count",
    "escalation_level", "message_count", "created_at", "updated_at",
)  # fmt: skip
MSG_COLS = (
    "id", "source_id", "external_id", "author_name", "text", "created_at", "received_at",
    "attachments", "status", "incident_id",
)  # fmt: skip


def schema_url(base: str, schema: str) -> str:
    """The database URL with `search_path` set to the bench schema."""
    url = make_engine(base).url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def reset_schema(base: str, schema: str, *, drop_only: bool = False) -> None:
    """Drop (and recreate) the bench schema."""
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        if not drop_only:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()


def prepare_reference(engine: Engine) -> tuple[list[int], list[tuple[str, float, float]], int]:
    """Migrate, seed config/, add the operator and a source; (departments, places, source)."""
    migrate.upgrade(engine)
    with session_scope(engine) as session:
        seed_reference(session, load_reference(CONFIG_DIR))
        session.add(User(username="operator", full_name="Оператор", role="operator",
                         password_hash=hash_password(PASSWORD)))  # fmt: skip
        source = Source(name="bench-vk", kind="vk")
        session.add(source)
        session.flush()
        depts = list(session.scalars(select(Department.id)))
        places = [
            (s.name, s.lat or 47.7, s.lon or 131.1) for s in session.scalars(select(Settlement))
        ]
        return depts, places, source.id


def _arrival(i: int, n: int, now: datetime, rng: random.Random) -> datetime:
    """Two years of arrivals in id order (intake inserts as messages come), with jitter."""
    minutes = ARCHIVE_DAYS * 24 * 60 * (n - i) / n
    return now - timedelta(minutes=minutes + rng.uniform(0, 30))


def incident_rows(
    n: int, depts: list[int], places: list[tuple[str, float, float]], seed: int
) -> Iterator[tuple[Any, ...]]:
    """N incidents over the last two years, statuses and deadlines like a real archive."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    names, weights = zip(*STATUSES, strict=True)
    done_names, done_weights = zip(*FINISHED, strict=True)
    for i in range(1, n + 1):
        received = _arrival(i, n, now, rng)
        recent = now - received < timedelta(days=RECENT_DAYS)
        status = (
            rng.choices(names, weights)[0] if recent else rng.choices(done_names, done_weights)[0]
        )
        place, lat, lon = rng.choice(places)
        geo = rng.random() < 0.1
        due = received + timedelta(hours=rng.randrange(8, 240)) if status in OPEN else None
        block = rng.choice(BLOCKS)
        yield (
            i, f"МЦУ-B-{i:07d}", block, f"Инцидент {i}: проблема в блоке {block}", status,
            rng.random() < 0.05, status in OPEN and rng.random() < 0.1, place,
            lat + rng.uniform(-0.01, 0.01) if geo else None,
            lon + rng.uniform(-0.01, 0.01) if geo else None,
            None if status == "new" else rng.choice(depts), "social_normal", received, due,
            0, 0, 1, received, received,
        )  # fmt: skip


def message_rows(n: int, source_id: int, seed: int) -> Iterator[tuple[Any, ...]]:
    """One message per incident (same received time is not needed for the pages)."""
    rng = random.Random(seed + 1)
    now = datetime.now(UTC)
    for i in range(1, n + 1):
        at = _arrival(i, n, now, rng)
        text_ = f"Сообщение {i}: на улице яма, не горит фонарь, течёт крыша"
        yield (i, source_id, f"b{i}", f"Житель {i % 997}", text_, at, at, "[]", "linked", i)


def copy_rows(
    engine: Engine, table: str, cols: tuple[str, ...], rows: Iterator[tuple[Any, ...]]
) -> None:
    """COPY FROM STDIN, then move the id sequence past the loaded ids."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in rows:
                copy.write_row(row)
        cur.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
        raw.commit()
    finally:
        raw.close()


def load(engine: Engine, n: int, seed: int) -> float:
    """Reference data plus N incidents and messages; returns seconds spent."""
    started = time.perf_counter()
    depts, places, source_id = prepare_reference(engine)
    copy_rows(engine, "incidents", INC_COLS, incident_rows(n, depts, places, seed))
    copy_rows(engine, "messages", MSG_COLS, message_rows(n, source_id, seed))
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def serve(url: str, port: int) -> None:
    """The server subprocess: the real application on the bench schema."""
    import uvicorn

    from config.settings import Settings
    from web.app import create_app

    app = create_app(Settings(database_url=url, secret_key="bench", demo_mode=False))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", timeout_keep_alive=60)


def start_server(url: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start `serve` in a subprocess and wait for /healthz."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", url, "--port", str(port)], cwd=ROOT
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the bench server did not start")


async def login(client: httpx.AsyncClient) -> None:
    """Sign in as the operator (cookies stay in the client)."""
    page = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, "login form without CSRF token"
    form = {"username": "operator", "password": PASSWORD, "csrf": token.group(1), "next": "/"}
    response = await client.post("/login", data=form)
    if response.status_code != 303:
        raise RuntimeError(f"login failed: {response.status_code}")


async def hammer(
    client: httpx.AsyncClient, path: Callable[[], str], *, clients: int, total: int
) -> tuple[list[float], int, float]:
    """`total` GETs from `clients` concurrent workers; (latencies in s, errors, wall time)."""
    latencies: list[float] = []
    errors = 0
    left = total

    async def worker() -> None:
        nonlocal left, errors
        while left > 0:
            left -= 1
            started = time.perf_counter()
            try:
                response = await client.get(path())
            except httpx.TransportError:
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)
            errors += response.status_code != 200

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return latencies, errors, time.perf_counter() - started


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def measure(base: str, n: int, clients: int, requests: int) -> None:
    """Warm up, then measure every endpoint and print a table."""
    rng = random.Random(7)
    endpoints: list[tuple[str, Callable[[], str]]] = [
        ("/healthz (baseline)", lambda: "/healthz"),
        ("/triage", lambda: "/triage"),
        ("/incidents/{id}", lambda: f"/incidents/{rng.randint(1, n)}"),
        ("/api/v1/incidents", lambda: f"/api/v1/incidents?page={rng.randint(1, 20)}"),
        (
            "/api/v1/incidents?filters",
            lambda: f"/api/v1/incidents?status=open&block={rng.choice(BLOCKS)}",
        ),
    ]
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        await login(client)
        print(f"{'endpoint':28} {'requests':>8} {'errors':>6}", end="")
        print(f" {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7}")
        for name, path in endpoints:
            await hammer(client, path, clients=clients, total=min(requests, 2 * clients))
            latencies, errors, wall = await hammer(client, path, clients=clients, total=requests)
            print(f"{name:28} {len(latencies):8} {errors:6} {_pct(latencies, 0.5):8.1f} "
                  f"{_pct(latencies, 0.99):8.1f} {len(latencies) / wall:7.1f}")  # fmt: skip
        for name, path in endpoints:
            solo = [await _one(client, path()) for _ in range(20)]
            print(f"one client, {name}: median {statistics.median(solo) * 1000:.1f} ms")


async def _one(client: httpx.AsyncClient, path: str) -> float:
    started = time.perf_counter()
    await client.get(path)
    return time.perf_counter() - started


def main() -> int:
    """Load, serve, measure, drop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="incidents to load")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=500, help="requests per endpoint")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the bench_web schema")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return 0
    url = schema_url(PG_URL, SCHEMA)
    reset_schema(PG_URL, SCHEMA)
    engine = make_engine(url)
    proc = None
    try:
        seconds = load(engine, args.n, args.seed)
        print(f"loaded {args.n:,} incidents + {args.n:,} messages into {SCHEMA} in {seconds:.1f} s")
        proc, base = start_server(url)
        print(f"uvicorn (1 process) at {base}, {args.clients} concurrent clients")
        asyncio.run(measure(base, args.n, args.clients, args.requests))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        engine.dispose()
        if not args.keep:
            reset_schema(PG_URL, SCHEMA, drop_only=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
