"""Benchmark: end-to-end intake in messages/s with many open incidents already present.

Messages are realistic Russian texts (collectors/demo_data with varied places, a share of
them repeating a recent message). Each backend gets a fresh schema (SQLite file, or the
PostgreSQL schema `bench_incidents_<pid>`, created and dropped here), the reference data, the demo
staff and `--open` open incidents received within the duplicate window. Then:

- store: `collectors.repository.store_messages` per source in chunks, committed;
- process: the worker's intake job as `mcu worker` runs it: start-up as the worker does it
  (`app.scheduler.prepare_process`: model, classification helper process, gc.freeze), then
  `app.overlap.run_intake` until no message is left (claim a batch, classify it, or take
  what the helper classified ahead → place → dedupe → route → deadline → events and alerts),
  committed per batch; on PostgreSQL a batch's writes overlap the next batch's decisions,
  and `--overlap both` adds a column with them one after the other (`run_batches` of
  `process_pending`, as with MCU_INTAKE_OVERLAP=false); `--batch` tries other batch sizes
  than PROCESS_BATCH, `--no-helper` classifies in the worker process for comparison;
- baselines: `predict_many` alone on the same texts, and a plain bulk INSERT of the same
  messages plus one incident per message.

Prints a table (SQLite and PostgreSQL side by side) and a digest of what intake wrote, so
runs of different code on the same input can be compared for identical results (the
classifier and gazetteer must be the same too). Asserts nothing.

    .venv/bin/python bench/incidents.py [--n 20000] [--open 100000] [--backend both]
        [--batch 1000] [--no-helper] [--overlap on|off|both] [--dup 0.2]
        [--profile [--profile-sort cumulative]]
        [--no-digest]
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import gc
import hashlib
import json
import os
import pstats
import random
import resource
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# `python bench/incidents.py` puts bench/ first on sys.path, where this file shadows the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, func, insert, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app import overlap, pipeline, scheduler  # noqa: E402
from app.context import AppContext, load_calendar  # noqa: E402
from app.demo import ensure_demo_users  # noqa: E402
from app.models import active_classifier  # noqa: E402
from app.readahead import read_ahead  # noqa: E402
from bench._pg import drop_schema, fresh_schema  # noqa: E402
from classifier.registry import ModelRegistry  # noqa: E402
from classifier.train import train_classifier  # noqa: E402
from collectors import repository as collectors_repo  # noqa: E402
from collectors.demo import CHANNELS, load_items  # noqa: E402
from config.reference import ReferenceConfig, load_reference  # noqa: E402
from config.settings import CONFIG_DIR, Settings  # noqa: E402
from core.db import make_engine, session_factory  # noqa: E402
from core.models import (  # noqa: E402
    AlertOutbox,
    Base,
    Classification,
    Incident,
    IncidentEvent,
    Message,
    RoutingRule,
)
from core.seed import seed_reference  # noqa: E402
from core.types import RawMessage  # noqa: E402
from incidents.dedupe import Place, content_words  # noqa: E402
from incidents.text import make_title, merge_fingerprints  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# Per process: two runs at once on one PostgreSQL must not drop each other's schema.
PG_SCHEMA = f"bench_incidents_{os.getpid()}"
NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # Wednesday 12:00 in Амурзет
HANDWRITTEN = ROOT / "classifier" / "data" / "handwritten.csv"
STORE_CHUNK = 500
OPEN_STATUSES = ("new", "assigned", "assigned", "in_progress", "answered")
REPEAT_PREFIX = ("", "", "Повторно пишу: ", "Ещё раз: ", "Жители жалуются: ")
REPEAT_SUFFIX = ("", " Никто не реагирует!", " Сколько можно ждать?", " Примите меры.")


@dataclass(frozen=True, slots=True)
class Text:
    """One generated message: channel, text and the place it names."""

    channel: str
    text: str
    place: Place
    block: str


class TextMaker:
    """Demo texts with varied places; a share repeats one of the recent texts."""

    def __init__(self, reference: ReferenceConfig, *, seed: int, dup_share: float) -> None:
        self.rng = random.Random(seed)
        self.items = load_items()
        self.places = [
            (str(s["name"]), str(street["name"]), str(street.get("kind") or "улица"))
            for s in reference.gazetteer.get("settlements") or []
            for street in s.get("streets") or []
        ]
        self.dup_share = dup_share
        self.recent: list[Text] = []

    def _fresh(self) -> Text:
        # Mostly a demo text with an address of its own; some name their place, a few none.
        roll = self.rng.random()
        pool = [i for i in self.items if bool(i.settlement) == (roll < 0.1)] or list(self.items)
        item = self.rng.choice(pool)
        if roll < 0.15 or not self.places:
            place = Place(item.settlement, item.street, item.house)
            return Text(item.channel, item.text, place, item.expected_block)
        settlement, street, kind = self.rng.choice(self.places)
        house = str(self.rng.randint(1, 60))
        short = "пер." if kind == "переулок" else "ул."
        body = f"{item.text.rstrip()} — с. {settlement}, {short} {street}, д. {house}"
        return Text(item.channel, body, Place(settlement, street, house), item.expected_block)

    def __call__(self) -> Text:
        if self.recent and self.rng.random() < self.dup_share:
            old = self.rng.choice(self.recent[-40:])
            body = self.rng.choice(REPEAT_PREFIX) + old.text + self.rng.choice(REPEAT_SUFFIX)
            made = Text(self.rng.choice(CHANNELS), body, old.place, old.block)
        else:
            made = self._fresh()
        self.recent.append(made)
        del self.recent[:-200]
        return made


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    value = fn()
    return time.perf_counter() - began, value


def models_dir(tmp: Path, reference: ReferenceConfig) -> Path:
    """The active model in var/models, else one trained now on the hand-written set."""
    var_models = ROOT / "var" / "models"
    if ModelRegistry(var_models).active_version() is not None:
        return var_models
    with HANDWRITTEN.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    model = train_classifier(
        [(r["text"], r["block"]) for r in rows],
        blocks=reference.block_codes,
        urgent=[r["urgent"] == "1" for r in rows],
        cv_folds=2,
    )
    root = tmp / "models"
    ModelRegistry(root).save_new(model)
    return root


def context(
    engine: Engine, reference: ReferenceConfig, models: Path, *, overlap: bool = True
) -> AppContext:
    """The composition root as `mcu worker` builds it, on the bench database."""
    settings = Settings(
        models_dir=models, secret_key="bench", database_url="sqlite://", intake_overlap=overlap
    )
    tz = reference.municipality.municipality.timezone
    calendar = load_calendar(reference, tz=tz, config_dir=str(CONFIG_DIR))
    return AppContext(settings=settings, config=reference, engine=engine, calendar=calendar, tz=tz)


def _incident_rows(
    session: Session, texts: list[Text], start_id: int, reference: ReferenceConfig
) -> Iterator[dict[str, Any]]:
    """Open incidents, one per text, received over the last 72 h (the newest last)."""
    blocks = {b.code for b in reference.municipality.blocks if b.code != "other"}
    rules = select(RoutingRule.block_code, RoutingRule.department_id).where(
        RoutingRule.settlement.is_(None)
    )
    route = {block: dept for block, dept in session.execute(rules)}
    rng = random.Random(7)
    span = timedelta(hours=71).total_seconds()
    for i, made in enumerate(texts):
        block = made.block if made.block in blocks else rng.choice(sorted(blocks))
        received = NOW - timedelta(hours=72) + timedelta(seconds=span * (i + 1) / len(texts))
        status = rng.choice(OPEN_STATUSES)
        yield {
            "id": start_id + i,
            "number": f"МЦУ-2026-{start_id + i:06d}",
            "block_code": block,
            "title": make_title(made.text),
            "status": status,
            "settlement": made.place.settlement,
            "street": made.place.street,
            "house": made.place.house,
            "department_id": None if status == "new" else route.get(block),
            "sla_policy": "social_normal",
            "received_at": received,
            "first_answer_due_at": received + timedelta(days=1),
            "due_at": received + timedelta(days=1),
            "text_fingerprint": merge_fingerprints(
                [" ".join(content_words(made.text, made.place))]
            ),
            "created_at": received,
            "updated_at": received,
        }


def bulk_insert(session: Session, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Plain bulk INSERT (executemany of the driver) in chunks."""
    for i in range(0, len(rows), 10_000):
        session.execute(insert(model), rows[i : i + 10_000])


def postgres_cpu_seconds() -> float:
    """User + system CPU of every PostgreSQL process on this machine (Linux /proc): what the
    server spends on the processing, beside the worker's own CPU. CPU time, unlike wall
    time, hardly moves with what else the machine runs; 0 where /proc is not readable."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
            if not fields[0].endswith("(postgres"):
                continue
            values = fields[1].split()
            total += int(values[11]) + int(values[12])  # utime, stime (fields 14 and 15)
        except (OSError, IndexError, ValueError):  # a process that ended meanwhile
            continue
    return total / ticks


def add_open_incidents(
    session: Session, *, count: int, maker: TextMaker, reference: ReferenceConfig
) -> None:
    """Bulk-insert `count` open incidents (plain INSERTs, ids given) and move the sequence."""
    texts = [maker() for _ in range(count)]
    bulk_insert(session, Incident, list(_incident_rows(session, texts, 1, reference)))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT setval(pg_get_serial_sequence('incidents', 'id'), max(id)) FROM incidents")
        )
    session.commit()
    # Statistics as autovacuum keeps them on a live database (stale ones after a bulk load make
    # PostgreSQL sort a whole block instead of reading the newest rows by index). Only the
    # bench's own tables on PostgreSQL (its search_path's), not every schema of the database.
    if session.get_bind().dialect.name == "postgresql":
        tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
        session.execute(text(f"ANALYZE {tables}"))
    else:
        session.execute(text("ANALYZE"))
    session.commit()


def prepare(engine: Engine, reference: ReferenceConfig) -> Session:
    """Schema, reference data, demo staff and one source per channel."""
    Base.metadata.create_all(engine)
    session = session_factory(engine)()
    seed_reference(session, reference)
    ensure_demo_users(session)
    for channel in CHANNELS:
        collectors_repo.ensure_source(session, name=f"bench-{channel}", kind=channel)
    session.commit()
    return session


def raw_messages(maker: TextMaker, n: int) -> tuple[list[RawMessage], list[Text]]:
    """`n` messages of the last hour from the bench sources, with what they were made of."""
    out, made_of = [], []
    for i in range(n):
        made = maker()
        made_of.append(made)
        out.append(
            RawMessage(
                source=f"bench-{made.channel}",
                external_id=f"m{i:07d}",
                text=made.text,
                created_at=NOW - timedelta(seconds=3600 - i % 3600),
                author_id=f"a{i % 5000}",
                author_name="Житель",
            )
        )
    return out, made_of


def store_all(session: Session, messages: list[RawMessage]) -> int:
    """Store the messages as collectors do: per source, in chunks, committed per chunk."""
    by_source: dict[str, list[RawMessage]] = defaultdict(list)
    for msg in messages:
        by_source[msg.source].append(msg)
    stored = 0
    for name, items in by_source.items():
        source = collectors_repo.ensure_source(session, name=name, kind=name.split("-", 1)[1])
        for i in range(0, len(items), STORE_CHUNK):
            new, _dup = collectors_repo.store_messages(
                session, source=source, messages=items[i : i + STORE_CHUNK], now=NOW
            )
            stored += new
            session.commit()
    return stored


def process_all(ctx: AppContext) -> dict[str, int]:
    """The worker's intake job as `mcu worker` runs it, until no message is left: runs of
    `run_intake` (one committed transaction per batch), each started again at once while
    it reports more work, as the scheduler does."""
    total: dict[str, int] = defaultdict(int)
    while True:
        stats = overlap.run_intake(ctx, budget_seconds=scheduler.BATCH_RUN_SECONDS, now=NOW)
        for key, value in stats.items():
            if isinstance(value, int) and not isinstance(value, bool):
                total[key] += value
        if not stats.get("more"):
            return dict(total)


def start_worker(ctx: AppContext, *, helper: bool) -> None:
    """What `mcu worker` does at start-up (model, helper process, gc.freeze); then wait for
    the helper to load its model, as it has long done in a running worker."""
    scheduler.prepare_process(ctx)
    model = active_classifier(ctx)
    if model is None:
        raise RuntimeError("no active classifier")
    ahead = read_ahead(ctx, model)
    if not helper:
        ahead.close()
        ahead.prefetch = lambda rows: None  # type: ignore[method-assign]  # comparison only
    elif not ahead.wait_ready():
        raise RuntimeError("the classification helper did not start")


@dataclass
class Collected:
    """Garbage collections seen while processing: how many, and how long they took."""

    count: int = 0
    seconds: float = 0.0


@contextmanager
def collections_counted() -> Iterator[Collected]:
    """Count the collector's runs inside (gc.callbacks), in any thread of the process."""
    seen = Collected()
    began = [0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            began[0] = time.perf_counter()
        else:
            seen.count += 1
            seen.seconds += time.perf_counter() - began[0]

    gc.callbacks.append(callback)
    try:
        yield seen
    finally:
        gc.callbacks.remove(callback)


@contextmanager
def gc_as_asked(*, paused: bool) -> Iterator[None]:
    """The intake runs as the worker makes them (collector paused), or with it left on."""
    if paused:
        yield
        return
    kept = overlap.collection_paused
    overlap.collection_paused = nullcontext  # type: ignore[assignment]
    try:
        yield
    finally:
        overlap.collection_paused = kept


def bulk_baseline(
    session: Session, messages: list[RawMessage], texts: list[Text], reference: ReferenceConfig
) -> float:
    """Seconds for a plain bulk INSERT of the same messages plus one incident per message."""
    source_id = session.scalar(select(func.min(Message.source_id)))
    next_id = int(session.scalar(select(func.max(Incident.id))) or 0) + 1
    msg_rows: list[dict[str, Any]] = [
        {
            "source_id": source_id,
            "external_id": f"bulk-{m.external_id}",
            "text": m.text,
            "created_at": m.created_at,
            "received_at": NOW,
            "author_id": m.author_id,
            "attachments": [],
            "extra": {},
            "status": "linked",
        }
        for m in messages
    ]
    inc_rows = list(_incident_rows(session, texts, next_id, reference))
    session.commit()
    began = time.perf_counter()
    bulk_insert(session, Message, msg_rows)
    bulk_insert(session, Incident, inc_rows)
    session.commit()
    return time.perf_counter() - began


def merge_reasons(session: Session) -> str:
    """How many merges were near-duplicate texts and how many one address and topic."""
    stmt = select(IncidentEvent.payload).where(IncidentEvent.action == "merged_message")
    reasons = [payload.get("reason") for payload in session.scalars(stmt)]
    return f"{reasons.count('text')} / {reasons.count('address')}"


def digest(session: Session) -> str:
    """A hash of what intake decided: links, incidents, events and alerts (ids included)."""
    h = hashlib.sha256()
    queries = [
        select(Message.external_id, Message.status, Message.incident_id, Message.error).order_by(
            Message.external_id
        ),
        select(Classification.message_id, Classification.block_code, Classification.place).order_by(
            Classification.message_id
        ),
        select(
            Incident.id,
            Incident.number,
            Incident.block_code,
            Incident.status,
            Incident.urgent,
            Incident.settlement,
            Incident.street,
            Incident.house,
            Incident.department_id,
            Incident.executor_id,
            Incident.sla_policy,
            Incident.due_at,
            Incident.first_answer_due_at,
            Incident.final_due_at,
            Incident.escalation_level,
            Incident.message_count,
            Incident.text_fingerprint,
        ).order_by(Incident.id),
        select(
            IncidentEvent.incident_id,
            IncidentEvent.action,
            IncidentEvent.from_status,
            IncidentEvent.to_status,
            IncidentEvent.reason,
            IncidentEvent.payload,
        ),
        select(
            AlertOutbox.dedupe_key,
            AlertOutbox.kind,
            AlertOutbox.user_id,
            AlertOutbox.incident_id,
            AlertOutbox.urgent,
            AlertOutbox.payload,
        ),
    ]
    for stmt in queries:
        rows = sorted(
            json.dumps(list(r), default=str, ensure_ascii=False, sort_keys=True)
            for r in session.execute(stmt)
        )
        for row in rows:
            h.update(row.encode())
    return h.hexdigest()[:12]


def run_backend(
    engine: Engine,
    args: argparse.Namespace,
    reference: ReferenceConfig,
    models: Path,
    *,
    overlap: bool = True,
    gc_paused: bool = True,
) -> dict[str, str]:
    """Prepare the database, time store, process and the baselines; return the figures.
    `gc_paused=False`: the intake runs leave the garbage collector on (app.gcpause)."""
    out: dict[str, str] = {}
    session = prepare(engine, reference)
    maker = TextMaker(reference, seed=2026, dup_share=args.dup)
    t_open, _ = _timed(
        lambda: add_open_incidents(session, count=args.open, maker=maker, reference=reference)
    )
    messages, made_of = raw_messages(maker, args.n)
    ctx = context(engine, reference, models, overlap=overlap)
    start_worker(ctx, helper=args.helper)
    model = active_classifier(ctx)
    assert model is not None
    t_store, stored = _timed(lambda: store_all(session, messages))
    profile = cProfile.Profile() if args.profile else None
    if profile:
        profile.enable()
    cpu, server_cpu = time.process_time(), postgres_cpu_seconds()
    with collections_counted() as collected, gc_as_asked(paused=gc_paused):
        t_proc, stats = _timed(lambda: process_all(ctx))
    cpu, server_cpu = time.process_time() - cpu, postgres_cpu_seconds() - server_cpu
    if profile:
        profile.disable()
        pstats.Stats(profile).sort_stats(args.profile_sort).print_stats(args.profile_lines)
        if args.profile_out:
            profile.dump_stats(args.profile_out)
    ctx.cache["readahead"].close()
    n = len(messages)
    alerts = session.scalar(select(func.count(AlertOutbox.id))) or 0
    out["open incidents before"] = f"{args.open:,} ({t_open:.0f} s)"
    out["messages (stored)"] = f"{n:,} ({stored:,})"
    out["new / merged / noise / failed"] = "/".join(
        str(stats.get(k, 0)) for k in ("incidents_new", "merged", "noise", "failed")
    )
    out["  merged by text / address"] = merge_reasons(session)
    out["alerts written"] = f"{alerts:,}"
    out["END TO END, msg/s"] = f"{n / (t_store + t_proc):,.0f}"
    out["  store_messages, msg/s"] = f"{n / t_store:,.0f}"
    out["  process (classify+intake), msg/s"] = f"{n / t_proc:,.0f}"
    out["  ms per message (process)"] = f"{t_proc * 1000 / n:.2f}"
    out["  CPU ms per message, worker process"] = f"{cpu * 1000 / n:.2f}"
    out["  garbage collections, s (count)"] = f"{collected.seconds:.2f} ({collected.count:,})"
    if engine.dialect.name == "postgresql":
        out["  CPU ms per message, PostgreSQL"] = f"{server_cpu * 1000 / n:.2f}"
    out["result digest"] = digest(session) if args.digest else "-"
    out["peak RSS of the process, MB"] = (
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024:,}"
    )
    texts = [m.text for m in messages]
    t_cls, _ = _timed(lambda: model.predict_many(texts))
    out["baseline classify only, msg/s"] = f"{n / t_cls:,.0f}"
    t_bulk = bulk_baseline(session, messages, made_of, reference)
    out["baseline bulk INSERT msg+inc, msg/s"] = f"{n / t_bulk:,.0f}"
    session.close()
    return out


def _engine(name: str, args: argparse.Namespace, tmp: Path) -> Engine:
    if name == "sqlite":  # a fresh file for every column (--gc both runs SQLite twice)
        path = tmp / "bench_incidents.db"
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        return make_engine(f"sqlite:///{path}")
    return fresh_schema(args.pg_url, PG_SCHEMA)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="messages to take in")
    parser.add_argument("--open", type=int, default=100_000, help="open incidents before")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--dup", type=float, default=0.2, help="share repeating a recent text")
    parser.add_argument(
        "--batch", type=int, default=pipeline.PROCESS_BATCH, help="messages per worker batch"
    )
    parser.add_argument(
        "--no-helper",
        dest="helper",
        action="store_false",
        help="for comparison: classify in the worker process, no read-ahead helper",
    )
    parser.add_argument(
        "--overlap",
        choices=("on", "off", "both"),
        default="on",
        help="PostgreSQL: a batch's writes overlap the next batch's decisions (off: in turn)",
    )
    parser.add_argument(
        "--gc",
        choices=("paused", "on", "both"),
        default="paused",
        help="the garbage collector during intake runs: paused as in the worker, or left on",
    )
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--no-digest", dest="digest", action="store_false")
    parser.add_argument("--profile", action="store_true", help="cProfile the processing")
    parser.add_argument("--profile-lines", type=int, default=30)
    parser.add_argument(
        "--keep", action="store_true", help=f"keep the PostgreSQL schema {PG_SCHEMA} to inspect"
    )
    parser.add_argument("--profile-out", help="also write the profile's stats to this file")
    parser.add_argument("--profile-sort", default="tottime", help="tottime or cumulative")
    args = parser.parse_args()
    pipeline.PROCESS_BATCH = args.batch  # the worker's batch size unless --batch says otherwise
    names = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    modes = {"on": (True,), "off": (False,), "both": (True, False)}[args.overlap]
    collector = {"paused": (True,), "on": (False,), "both": (True, False)}[args.gc]
    backends = [
        (name, mode, paused)
        for name in names
        for mode in (modes if name == "postgresql" else (True,))
        for paused in collector
    ]
    reference = load_reference(CONFIG_DIR)
    columns: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        models = models_dir(Path(tmp), reference)
        print(
            f"Incident intake bench: {args.n:,} messages, {args.open:,} open incidents, "
            f"worker batches of {args.batch}, "
            f"classification helper {'on' if args.helper else 'off'}"
        )
        for name, overlapped, paused in backends:
            column = name if overlapped or name == "sqlite" else "postgresql, in turn"
            column += "" if paused else ", GC on"
            engine = _engine(name, args, Path(tmp))
            try:
                columns[column] = run_backend(
                    engine, args, reference, models, overlap=overlapped, gc_paused=paused
                )
            except Exception as exc:  # a bench reports, it does not stop on one backend
                traceback.print_exc()
                columns[column] = {"error": f"{type(exc).__name__}: {str(exc)[:80]}"}
            finally:
                engine.dispose()
                if name == "postgresql" and not args.keep:
                    drop_schema(args.pg_url, PG_SCHEMA)
    rows = list(dict.fromkeys(k for col in columns.values() for k in col))
    print(f"{'':38}" + "".join(f"{name:>20}" for name in columns))
    for row in rows:
        print(f"{row:38}" + "".join(f"{col.get(row, ''):>20}" for col in columns.values()))


if __name__ == "__main__":
    main()
