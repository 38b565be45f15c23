"""Benchmark: messages/s from a fake VK server through the VK collector into the database.

Real vk_api over HTTP to the local fake VK of tests/integration/collectors/fake_vk.py, with
vk_api's own 0.34 s delay and our throttle disabled. Baselines: the same RawMessages stored
by `store_messages` without the collector (no HTTP), and one bulk INSERT of the same rows.
Prints figures for SQLite and PostgreSQL side by side; asserts nothing.

    .venv/bin/python bench/collectors.py [--posts 50] [--comments 200] [--backends sqlite]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# `python bench/collectors.py` puts bench/ first on sys.path, where this file shadows the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, delete, insert, text  # noqa: E402

from app.collect import run_pass as collect_once  # noqa: E402
from bench._pg import drop_schema, fresh_schema  # noqa: E402
from collectors import repository as repo  # noqa: E402
from collectors.vk import VkCollector, VkOptions  # noqa: E402
from collectors.vk_client import VkClient  # noqa: E402
from core.db import make_engine, session_factory  # noqa: E402
from core.models import Base, Message  # noqa: E402
from core.types import RawMessage  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "bench_vk"
NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
T = int(NOW.timestamp())
FAKE_FILE = ROOT / "tests" / "integration" / "collectors" / "fake_vk.py"


def load_fake() -> Any:
    """The FakeVk class of the tests (one fake for tests and bench)."""
    spec = importlib.util.spec_from_file_location("fake_vk", FAKE_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fake_vk"] = module
    spec.loader.exec_module(module)
    return module.FakeVk


def populate(fake: Any, *, posts: int, comments: int) -> int:
    """Recent posts, each with comments (every tenth a reply in a thread); return the total."""
    for user in range(1, 201):
        fake.add_user(user, f"Имя{user}", f"Фамилия{user}")
    for p in range(posts):
        post = fake.add_post(f"Объявление {p}: отключение воды по ул. Ленина", date=T - 3600 - p)
        top = None
        for c in range(comments):
            reply_to: int | None = top if c % 10 == 9 else None
            made = fake.add_comment(
                post,
                f"Комментарий {c}: у нас тоже нет воды, дом {c % 40}",
                date=T - 3000 + c,
                from_id=1 + c % 200,
                reply_to=reply_to,
            )
            top = top or made
    return posts * (comments + 1)


def collector(fake: Any) -> VkCollector:
    """A collector on the fake with no throttle and no sleeping (the bench measures work)."""
    client = VkClient(token="group-token", api_base=fake.url, min_interval=0, sleep=lambda _s: None)
    options = VkOptions(source="vk-bench", group_id=fake.group_id, max_pages=100)
    return VkCollector(options=options, secret="bench", client=client)


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    value = fn()
    return time.perf_counter() - began, value


def _reset(engine: Engine) -> None:
    with session_factory(engine)() as session:
        # TRUNCATE on PostgreSQL: rows deleted by DELETE would slow the next run's inserts.
        pg = engine.dialect.name == "postgresql"
        session.execute(text("TRUNCATE messages CASCADE") if pg else delete(Message))
        source = repo.ensure_source(session, name="vk-bench", kind="vk", settings={"group_id": 1})
        source.cursor, source.status = {}, "ok"
        session.commit()


def _rows(source_id: int, messages: list[RawMessage]) -> list[dict[str, Any]]:
    return [
        {
            "source_id": source_id,
            "external_id": m.external_id,
            "author_id": m.author_id,
            "author_name": m.author_name,
            "text": m.text,
            "url": m.url,
            "created_at": m.created_at,
            "received_at": NOW,
            "thread_id": m.thread_id,
            "reply_to": m.reply_to,
            "attachments": list(m.attachments),
            "status": "new",
        }
        for m in messages
    ]


def run_backend(engine: Engine, fake: Any) -> dict[str, str]:
    """Time a full first pass, a pass with no news, fetch alone and the store baselines."""
    Base.metadata.create_all(engine)
    out: dict[str, str] = {}
    _reset(engine)
    with session_factory(engine)() as session:
        t_full, result = _timed(
            lambda: collect_once(
                session, name="vk-bench", now=NOW, build=lambda _r: collector(fake)
            )
        )
        session.commit()
        t_idle, idle = _timed(
            lambda: collect_once(
                session, name="vk-bench", now=NOW, build=lambda _r: collector(fake)
            )
        )
        session.commit()
    n = result.stored
    out["messages stored (1st pass)"] = f"{n:,}"
    out["collector → DB, msg/s"] = f"{n / t_full:,.0f}"
    out["  pass with no news, ms"] = f"{t_idle * 1000:.0f} ({idle.fetched} new)"
    fetcher = collector(fake)
    t_fetch, batch = _timed(lambda: fetcher.fetch(cursor={}, now=NOW))
    fetcher.close()
    messages = list(batch.messages)
    out["  fetch only (HTTP+parse), msg/s"] = f"{len(messages) / t_fetch:,.0f}"
    _reset(engine)
    with session_factory(engine)() as session:
        source = repo.ensure_source(session, name="vk-bench", kind="vk")
        t_store, _ = _timed(
            lambda: repo.store_messages(session, source=source, messages=messages, now=NOW)
        )
        session.rollback()
        rows = _rows(source.id, messages)
        t_bulk, _ = _timed(lambda: session.execute(insert(Message), rows))
        session.rollback()
    out["baseline store_messages, msg/s"] = f"{len(messages) / t_store:,.0f}"
    out["baseline bulk INSERT, msg/s"] = f"{len(messages) / t_bulk:,.0f}"
    out["collector / store_messages"] = f"{t_full / t_store:.1f}x time"
    return out


def _engine(name: str, args: argparse.Namespace, tmp: Path) -> Engine:
    if name == "sqlite":
        return make_engine(f"sqlite:///{tmp / 'bench_vk.db'}")
    return fresh_schema(args.pg_url, PG_SCHEMA)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--posts", type=int, default=50)
    parser.add_argument("--comments", type=int, default=200, help="comments per post")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()
    fake = load_fake()()
    total = populate(fake, posts=args.posts, comments=args.comments)
    fake.start()
    print(f"VK collector bench: {args.posts} posts × {args.comments} comments = {total:,} messages")
    columns: dict[str, dict[str, str]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name in args.backends.split(","):
                engine = _engine(name, args, Path(tmp))
                try:
                    columns[name] = run_backend(engine, fake)
                except Exception as exc:  # a bench reports, it does not stop on one backend
                    columns[name] = {"error": f"{type(exc).__name__}: {str(exc)[:80]}"}
                finally:
                    engine.dispose()
                    if name == "postgresql":
                        drop_schema(args.pg_url, PG_SCHEMA)
    finally:
        fake.stop()
    print(f"  (HTTP calls made: {len(fake.calls):,})")
    rows = list(dict.fromkeys(k for col in columns.values() for k in col))
    print(f"{'':36}" + "".join(f"{name:>18}" for name in columns))
    for row in rows:
        print(f"{row:36}" + "".join(f"{col.get(row, ''):>18}" for col in columns.values()))


if __name__ == "__main__":
    main()
