"""Benchmark: alerts/s through the outbox into a fake Bot API, rate limits off and on; latency.

Real aiogram against `tests/integration/alerts/fake_bot_api.py` on 127.0.0.1, SQLite file
(or PostgreSQL with --pg), commit per message as in production. Prints figures, asserts
nothing.

    .venv/bin/python bench/alerts.py [--alerts 2000] [--chats 1000] [--pg]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `python bench/alerts.py` puts bench/ first on sys.path, where this file shadows the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, delete, insert  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from alerts.ratelimit import Limiter, RateLimiter, Unlimited  # noqa: E402
from alerts.service import DeliveryOptions, deliver_due  # noqa: E402
from alerts.telegram import TelegramNotifier  # noqa: E402
from app.scheduler import JOBS  # noqa: E402
from bench._pg import drop_schema, fresh_schema  # noqa: E402
from core.db import make_engine, session_factory  # noqa: E402
from core.models import AlertOutbox, Base, Block, Incident, SlaPolicy, TelegramLink, User  # noqa: E402
from tests.integration.alerts.fake_bot_api import FakeBotApi  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "bench_alerts"
OPTIONS = DeliveryOptions(base_url="https://mcu.example.ru", tz="Asia/Vladivostok")
# The intervals `mcu worker` really runs the two jobs at (a copy here went stale once).
_SECONDS = {job.name: float(job.seconds) for job in JOBS}
ESCALATION_INTERVAL = _SECONDS["escalation"]
DELIVERY_INTERVAL = _SECONDS["deliver_alerts"]


def _engine(pg: bool) -> Engine:
    """A fresh PostgreSQL schema or SQLite file with the tables created."""
    if pg:
        engine = fresh_schema(PG_URL, PG_SCHEMA)
    else:
        engine = make_engine(f"sqlite:///{tempfile.mkdtemp()}/bench_alerts.db")
    Base.metadata.create_all(engine)
    return engine


def make_db(pg: bool, chats: int) -> Engine:
    """One open incident and `chats` users linked to Telegram."""
    engine = _engine(pg)
    now = datetime.now(UTC)
    with Session(engine) as s:
        s.add(Block(code="housing", name="Жилищно-коммунальное хозяйство"))
        s.add(SlaPolicy(code="portal", name="Портал"))
        s.flush()
        s.add(
            Incident(
                id=1,
                number="2026-000001",
                block_code="housing",
                title="Нет воды",
                sla_policy="portal",
                received_at=now,
                due_at=now + timedelta(hours=3),
            )
        )
        users = range(1, chats + 1)
        s.execute(
            insert(User),
            [
                {"id": i, "username": f"u{i}", "password_hash": "x", "role": "executor"}
                for i in users
            ],
        )
        links = [
            {"user_id": i, "chat_id": 10_000 + i, "active": True, "linked_at": now} for i in users
        ]
        s.execute(insert(TelegramLink), links)
        s.commit()
    return engine


def enqueue(engine: Engine, *, n: int, chats: int, tag: str) -> None:
    """`n` pending alerts spread round-robin over the chats."""
    now = datetime.now(UTC)
    payload = {
        "incident_id": 1,
        "number": "2026-000001",
        "block": "housing",
        "title": "Нет воды",
        "settlement": "с. Амурзет",
        "due_at": (now + timedelta(hours=3)).isoformat(),
    }
    rows = [
        {
            "kind": "assigned",  # sent one by one (new_incident would wait for the digest)
            "dedupe_key": f"{tag}:{i}",
            "user_id": i % chats + 1,
            "incident_id": 1,
            "urgent": False,
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for i in range(n)
    ]
    with Session(engine) as s:
        s.execute(delete(AlertOutbox))
        s.execute(insert(AlertOutbox), rows)
        s.commit()


async def drain(
    sessions: sessionmaker[Session], api: FakeBotApi, limiter: Limiter, n: int
) -> float:
    """Deliver until the fake server got `n` messages; seconds taken."""
    start, target = time.perf_counter(), len(api.sent()) + n
    async with TelegramNotifier.create(api.token, api.base_url) as notifier:
        while len(api.sent()) < target:
            stats = await deliver_due(
                sessions,
                notifier=notifier,
                now=datetime.now(UTC),
                limit=200,
                limiter=limiter,
                options=OPTIONS,
            )
            if stats.claimed == 0:
                await asyncio.sleep(0.02)  # deferred rows become due shortly
    return time.perf_counter() - start


def throughput(engine: Engine, api: FakeBotApi, args: argparse.Namespace) -> None:
    """Alerts/s with the limiter off, on with many chats, on with a few chats."""
    sessions = session_factory(engine)
    cases: list[tuple[str, int, int, Limiter]] = [
        ("лимиты выкл.", args.alerts, args.chats, Unlimited()),
        (f"лимиты вкл., {args.chats} чатов", args.limited, args.chats, RateLimiter()),
        ("лимиты вкл., 5 чатов", 25, 5, RateLimiter()),
    ]
    print(f"{'режим':<28}{'алертов':>9}{'секунд':>9}{'алертов/с':>11}")
    for i, (name, n, chats, limiter) in enumerate(cases):
        enqueue(engine, n=n, chats=chats, tag=f"t{i}")
        seconds = asyncio.run(drain(sessions, api, limiter, n))
        print(f"{name:<28}{n:>9}{seconds:>9.2f}{n / seconds:>11.1f}")


def latency(engine: Engine, api: FakeBotApi, runs: int = 20) -> None:
    """Outbox row committed → message at the fake server, one job tick with a fresh Bot."""
    sessions = session_factory(engine)
    api.stamp = time.perf_counter
    samples = []
    for i in range(runs):
        enqueue(engine, n=1, chats=1, tag=f"lat{i}")
        committed = time.perf_counter()

        async def tick() -> None:
            async with TelegramNotifier.create(api.token, api.base_url) as notifier:
                await deliver_due(
                    sessions,
                    notifier=notifier,
                    now=datetime.now(UTC),
                    limiter=RateLimiter(),
                    options=OPTIONS,
                )

        asyncio.run(tick())
        stamp = api.sent()[-1].stamp
        assert stamp is not None
        samples.append(stamp - committed)
    median, worst = statistics.median(samples), max(samples)
    print(
        f"\nДоставка (строка в очереди → сообщение на сервере), {runs} запусков: "
        f"медиана {median * 1000:.1f} мс, максимум {worst * 1000:.1f} мс"
    )
    e, d = ESCALATION_INTERVAL, DELIVERY_INTERVAL
    print(f"Просрочка → алерт: эскалация раз в {e:.0f} с + доставка раз в {d:.0f} с + отправка:")
    print(
        f"  в среднем ≈ {e / 2:.0f} + {d / 2:.1f} + {median:.3f} = {e / 2 + d / 2 + median:.1f} с;"
        f" худший случай ≈ {e:.0f} + {d:.0f} + {worst:.3f} = {e + d + worst:.1f} с"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=2000, help="alerts with limits off")
    parser.add_argument("--limited", type=int, default=250, help="alerts with limits on")
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    args = parser.parse_args()
    engine = make_db(args.pg, args.chats)
    print(f"База: {engine.dialect.name}; aiogram → фейковый Bot API на 127.0.0.1")
    with FakeBotApi() as api:
        throughput(engine, api, args)
        latency(engine, api)
    engine.dispose()
    if args.pg:
        drop_schema(PG_URL, PG_SCHEMA)


if __name__ == "__main__":
    main()
