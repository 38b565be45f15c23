"""Benchmark: web latency under concurrent clients with N incidents on PostgreSQL.

Loads N incidents (one message each) into the schema `bench_web` with COPY (the schema and
its indexes come from the migrations), runs VACUUM ANALYZE, starts the server as `mcu web
--workers 2` does (app.server.run_server) on 127.0.0.1 in a subprocess, signs in as an
operator and measures p50/p99 of /triage, /incidents/{id} and GET /api/v1/incidents against
/healthz as the floor, from `--clients` concurrent keep-alive connections under two load
models: clients that pause about `--think` seconds between requests as people do, and
clients that fire back to back (saturation, where latency is clients ÷ throughput). The load
comes from a minimal HTTP/1.1 client (`--client httpx` for the old one, whose ~5 ms of CPU
per request on a 2-core machine mostly measured itself); each client signs in with a session
of its own, as fifty operators would.

The server runs twice: with the page cache off (the baseline, MCU_WEB_PAGE_CACHE_MB=0) and
on (web.response_cache: a page is stored until the next write anywhere in the database),
while a thread commits `--writes` updates of random incidents a second, so stored pages keep
being invalidated as intake and staff would do; the `stored` column is the share of answers
served from the store. Prints figures, asserts nothing; the schema is dropped at the end
unless --keep (and --reuse measures a kept one).

    .venv/bin/python bench/web.py [--n 1000000] [--clients 50] [--requests 500] [--think 1 0.25]
        [--workers 2] [--client raw|httpx] [--page-cache off on] [--writes 1] [--keep] [--reuse]
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
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# `python bench/web.py` puts bench/ first on sys.path, where this file shadows the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from sqlalchemy import Engine, select, text  # noqa: E402

from bench._pg import drop_schema, fresh_schema, schema_url  # noqa: E402
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


class Writer:
    """A thread that touches `per_second` random incidents a second (one commit each), as
    intake and staff do: every write changes the data version the page cache keys by."""

    def __init__(self, engine: Engine, *, n: int, per_second: float) -> None:
        self.engine, self.n, self.per_second = engine, n, per_second
        self.done = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        rng = random.Random(5)
        touch = text("UPDATE incidents SET updated_at = now() WHERE id = :id")
        while not self._stop.wait(1 / self.per_second):
            with self.engine.begin() as conn:
                conn.execute(touch, {"id": rng.randint(1, self.n)})
            self.done += 1

    def __enter__(self) -> Writer:
        if self.per_second > 0:
            self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)


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
    names, weights = [s for s, _ in STATUSES], [w for _, w in STATUSES]
    done_names, done_weights = [s for s, _ in FINISHED], [w for _, w in FINISHED]
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
        with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
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
    return time.perf_counter() - started


def analyze(engine: Engine) -> None:
    """VACUUM ANALYZE after the bulk load, as autovacuum would soon do."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def loaded_rows(url: str) -> int:
    """Incidents already in a kept bench schema (0 when there is none)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM incidents")).scalar_one())
    except Exception:
        return 0
    finally:
        engine.dispose()


def bench_app() -> Any:
    """The application for the bench server (a factory: every uvicorn worker builds its own)."""
    from app.server import settle_heap
    from config.settings import Settings
    from web.app import create_app

    url = os.environ["MCU_BENCH_URL"]
    app = create_app(Settings(database_url=url, secret_key="bench", demo_mode=False))
    settle_heap()  # as app.server.web_app does for `mcu web --workers N`
    return app


def serve(url: str, port: int, workers: int) -> None:
    """The server subprocess: the real application on the bench schema, served as `mcu web`."""
    from app.server import run_server

    os.environ["MCU_BENCH_URL"] = url
    run_server("bench.web:bench_app", host="127.0.0.1", port=port, workers=workers, factory=True)


def start_server(url: str, workers: int, *, cache: bool) -> tuple[subprocess.Popen[bytes], str]:
    """Start `serve` in a subprocess (page cache on or off) and wait for /healthz."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    command = [sys.executable, __file__, "--serve", url, "--port", str(port)]
    env = os.environ | {"MCU_WEB_PAGE_CACHE_MB": os.environ.get("MCU_WEB_PAGE_CACHE_MB", "64")}
    if not cache:
        env["MCU_WEB_PAGE_CACHE_MB"] = "0"
    proc = subprocess.Popen([*command, "--workers", str(workers)], cwd=ROOT, env=env)
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
    # The first page gives the new session its CSRF token (a new cookie): the raw clients
    # then send the cookie a browser would hold from then on.
    await client.get("/triage")


Get = Callable[[str], Awaitable[int]]
# Answers of the raw clients by the server's x-mcu-cache header (web.response_cache).
CACHE_ANSWERS = {"hit": 0, "miss": 0}


class RawConnection:
    """One keep-alive HTTP/1.1 connection that sends GETs and reads Content-Length bodies.

    httpx spends ~5 ms of CPU per request, as much as the pages themselves: on a 2-core
    machine shared with the server it would measure itself. This costs ~0.1 ms.
    """

    def __init__(self, host: str, port: int, cookie: str) -> None:
        self.host, self.port = host, port
        self.head = f"Host: {host}:{port}\r\nCookie: {cookie}\r\nAccept: */*\r\n\r\n"
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, path: str) -> int:
        """GET `path`; the status code (the body is read and dropped)."""
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        writer.write(f"GET {path} HTTP/1.1\r\n{self.head}".encode())
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
        length = re.search(r"\r\ncontent-length: *(\d+)", head)
        if length is None:
            raise RuntimeError(f"{path}: response without Content-Length")
        await reader.readexactly(int(length.group(1)))
        cached = re.search(r"\r\nx-mcu-cache: *(hit|miss)", head)
        if cached is not None:
            CACHE_ANSWERS[cached.group(1)] += 1
        if "\r\nconnection: close" in head:
            writer.close()
            self.streams = None
        return int(head.split(" ", 2)[1])

    def close(self) -> None:
        """Drop the connection."""
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def _getters(
    client: httpx.AsyncClient, kind: str, count: int, base: str
) -> list[tuple[Get, Callable[[], None]]]:
    """`count` GET functions: raw connections, each signed in with a session of its own as
    the operators' browsers are (so no client is served a page another one's request
    stored), or the shared httpx client."""
    if kind == "httpx":

        async def via_httpx(path: str) -> int:
            return (await client.get(path)).status_code

        return [(via_httpx, lambda: None)] * count
    url = httpx.URL(base)
    conns = []
    for _ in range(count):
        async with httpx.AsyncClient(base_url=base, timeout=120) as own:
            await login(own)
            cookie = "; ".join(f"{k}={v}" for k, v in own.cookies.items())
        conns.append(RawConnection(url.host, url.port or 80, cookie))
    return [(conn.get, conn.close) for conn in conns]


async def hammer(
    getters: list[tuple[Get, Callable[[], None]]],
    path: Callable[[], str],
    *,
    total: int,
    think: float = 0.0,
) -> tuple[list[float], int, float]:
    """`total` GETs from one worker per getter; (latencies in s, errors, wall time).

    With `think` > 0 every client pauses a random 0.5–1.5 × `think` seconds after each
    response, as a person reading the page does; with 0 they fire back to back (saturation:
    latency is then clients ÷ throughput whatever the pages cost).
    """
    latencies: list[float] = []
    errors = 0
    left = total
    pause = random.Random(11)

    async def worker(get: Get, close: Callable[[], None]) -> None:
        nonlocal left, errors
        if think:  # people do not all click at the same instant: spread the first requests
            await asyncio.sleep(think * pause.uniform(0, 1))
        while left > 0:
            left -= 1
            started = time.perf_counter()
            try:
                status = await get(path())
            except (OSError, RuntimeError, asyncio.IncompleteReadError, httpx.TransportError):
                close()
                errors += 1
                continue
            latencies.append(time.perf_counter() - started)
            errors += status != 200
            if think:
                await asyncio.sleep(think * pause.uniform(0.5, 1.5))

    started = time.perf_counter()
    await asyncio.gather(*(worker(get, close) for get, close in getters))
    return latencies, errors, time.perf_counter() - started


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def endpoints(n: int) -> list[tuple[str, Callable[[], str]]]:
    """What is measured: the floor, the triage queue, an incident card and the JSON API."""
    rng = random.Random(7)
    return [
        ("/healthz (baseline)", lambda: "/healthz"),
        ("/triage", lambda: "/triage"),
        ("/incidents/{id}", lambda: f"/incidents/{rng.randint(1, n)}"),
        ("/api/v1/incidents", lambda: f"/api/v1/incidents?page={rng.randint(1, 20)}"),
        (
            "/api/v1/incidents?filters",
            lambda: f"/api/v1/incidents?status=open&block={rng.choice(BLOCKS)}",
        ),
    ]


async def _table(
    getters: list[tuple[Get, Callable[[], None]]], n: int, requests: int, think: float
) -> None:
    """One table: every endpoint under the same load model."""
    print(f"{'endpoint':28} {'requests':>8} {'errors':>6}", end="")
    print(f" {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7} {'stored':>7}")
    for name, path in endpoints(n):
        await hammer(getters, path, total=min(requests, 2 * len(getters)))
        CACHE_ANSWERS.update(hit=0, miss=0)
        latencies, errors, wall = await hammer(getters, path, total=requests, think=think)
        answered = CACHE_ANSWERS["hit"] + CACHE_ANSWERS["miss"]
        stored = f"{CACHE_ANSWERS['hit'] / answered:7.0%}" if answered else f"{'—':>7}"
        print(f"{name:28} {len(latencies):8} {errors:6} {_pct(latencies, 0.5):8.1f} "
              f"{_pct(latencies, 0.99):8.1f} {len(latencies) / wall:7.1f} {stored}")  # fmt: skip


async def measure(
    base: str, n: int, clients: int, requests: int, kind: str, thinks: list[float]
) -> None:
    """Warm up, then measure every endpoint under both load models and print tables."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        await login(client)
        getters = await _getters(client, kind, clients, base)
        for pause in (t for t in thinks if t > 0):
            print(f"\n{clients} clients, each pausing 0.5–1.5 × {pause:g} s between requests "
                  f"(people at work; ≈{clients / pause:.0f} req/s offered):")  # fmt: skip
            await _table(getters, n, requests, pause)
        print(f"\n{clients} clients back to back (saturation):")
        await _table(getters, n, requests, 0.0)
        for name, path in endpoints(n):
            solo = []
            for _ in range(20):
                started = time.perf_counter()
                await getters[0][0](path())
                solo.append(time.perf_counter() - started)
            print(f"one client, {name}: median {statistics.median(solo) * 1000:.1f} ms")
        for _get, close in getters:
            close()


def main() -> int:
    """Load, serve, measure, drop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="incidents to load")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=500, help="requests per endpoint")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the bench_web schema")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept schema of --n rows")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--client", choices=("raw", "httpx"), default="raw", help="HTTP client of the load"
    )
    parser.add_argument(
        "--think", type=float, nargs="+", default=[1.0, 0.25],
        help="mean pauses of a client between requests in s, one table each (0: none)",
    )  # fmt: skip
    parser.add_argument(
        "--page-cache", nargs="+", choices=("off", "on"), default=["off", "on"],
        help="measure the server with the page cache off, on, or both (the baseline first)",
    )  # fmt: skip
    parser.add_argument(
        "--writes", type=float, default=1.0,
        help="incidents updated per second while measuring (each write invalidates the cache)",
    )  # fmt: skip
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.workers)
        return 0
    url = schema_url(PG_URL, SCHEMA)
    reuse = args.reuse and loaded_rows(url) == args.n
    if not reuse:
        fresh_schema(PG_URL, SCHEMA).dispose()
    engine = make_engine(url)
    proc = None
    try:
        if reuse:
            migrate.upgrade(engine)
            print(f"reusing {args.n:,} incidents in {SCHEMA}")
        else:
            seconds = load(engine, args.n, args.seed)
            print(f"loaded {args.n:,} incidents + messages into {SCHEMA} in {seconds:.1f} s")
        analyze(engine)
        for cache in args.page_cache:
            proc, base = start_server(url, args.workers, cache=cache == "on")
            state = "on (web.response_cache)" if cache == "on" else "off (MCU_WEB_PAGE_CACHE_MB=0)"
            print(f"\n=== page cache {state}: uvicorn ({args.workers} worker(s)) at {base}, "
                  f"{args.clients} concurrent {args.client} clients, {args.writes:g} writes/s "
                  "to random incidents meanwhile ===")  # fmt: skip
            with Writer(engine, n=args.n, per_second=args.writes) as writer:
                asyncio.run(
                    measure(base, args.n, args.clients, args.requests, args.client, args.think)
                )
            print(f"writes committed during the measurement: {writer.done}")
            proc.terminate()
            proc.wait(timeout=20)
            proc = None
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        engine.dispose()
        if not args.keep:
            drop_schema(PG_URL, SCHEMA)
    return 0


if __name__ == "__main__":
    sys.exit(main())
