"""Benchmark: a weekly rating over N incidents on SQLite and PostgreSQL, SQL vs naive.

The SQL implementation is ``rating.service.compute_week`` (GROUP BY in the database, only the
week's judged incidents fetched for percentiles). The baseline loads every incident, answer
and verdict into Python and counts there. Both rate the same week and previous week (movers);
the outputs are compared. Then the previous week is published, as the Monday job finds it,
and the reported week alone is timed (median of 3). Prints figures, asserts nothing.

    .venv/bin/python bench/rating.py --n 1000000 [--weeks 52] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# `python bench/rating.py` puts bench/ first on sys.path, where this file shadows the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402
from sqlalchemy import Engine, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench._pg import drop_schema, fresh_schema  # noqa: E402
from core.calendar import WorkCalendar  # noqa: E402
from core.db import make_engine, session_factory  # noqa: E402
from core.models import Answer, Base, CitizenFeedback, Incident  # noqa: E402
from rating import repository as repo  # noqa: E402
from rating.scoring import (  # noqa: E402
    Counts,
    RatingConfig,
    RatingResult,
    UnitInput,
    apply_previous_ranks,
    score_units,
)
from rating.serialize import to_json_dict  # noqa: E402
from rating.service import compute_week, publish_snapshot  # noqa: E402
from rating.weeks import shift_week, week_bounds  # noqa: E402

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_SCHEMA = "bench_rating"
TZ = "Asia/Vladivostok"
CONFIG = RatingConfig(volume=0.2, speed=0.4, completeness=0.4)
BLOCKS = (
    *("housing", "energy", "waste", "roads", "transport", "construction", "economy"),
    *("consumer", "agriculture", "property", "social", "emergency"),
)
N_DEPTS = 10
INC_COLS = [
    *("id", "block_code", "title", "status", "urgent", "needs_review", "department_id"),
    *("sla_policy", "received_at", "first_answer_due_at", "final_due_at", "due_at"),
    *("first_answered_at", "final_answered_at", "resolved_at", "closed_at", "reopen_count"),
    *("escalation_level", "message_count", "created_at", "updated_at"),
]
ANS_COLS = ["id", "incident_id", "kind", "text", "formal_reply", "formal_reasons"]
ANS_COLS += ["created_at", "published_at"]
FB_COLS = ["id", "incident_id", "verdict", "created_at"]
H, D = timedelta(hours=1), timedelta(days=1)


@dataclass
class Data:
    incidents: list[tuple[Any, ...]] = field(default_factory=list)
    answers: list[tuple[Any, ...]] = field(default_factory=list)
    feedback: list[tuple[Any, ...]] = field(default_factory=list)


def _answers(data: Data, iid: int, received: datetime, now: datetime) -> tuple[Any, Any]:
    """Random first/final answers of one incident; returns (first_at, final_at)."""
    rnd = random.random
    if rnd() > 0.96:
        return None, None
    first = received + H * random.expovariate(1 / 6)
    formal = rnd() < 0.1
    data.answers.append(
        (len(data.answers) + 1, iid, "interim", "ответ", formal, "[]", first, first)
    )
    if formal and rnd() < 0.5:
        again = first + H * random.uniform(1, 30)
        data.answers.append(
            (len(data.answers) + 1, iid, "interim", "ответ", False, "[]", again, again)
        )
    if rnd() > 0.93:
        return (first if first < now else None), None
    final = first + D * random.uniform(0.5, 12)
    data.answers.append(
        (len(data.answers) + 1, iid, "final", "ответ", rnd() < 0.08, "[]", final, final)
    )
    return (first if first < now else None), (final if final < now else None)


def generate(*, n: int, span_start: datetime, span_end: datetime, now: datetime) -> Data:
    """N incidents received uniformly over [span_start, span_end), with answers and verdicts."""
    random.seed(20261116)
    data = Data()
    span = (span_end - span_start).total_seconds()
    for iid in range(1, n + 1):
        received = span_start + timedelta(seconds=random.random() * span)
        social = random.random() < 0.7
        first_due = received + 8 * H if social else None
        final_due = received + (7 if social else 10) * D
        first, final = _answers(data, iid, received, now)
        rejected = final is not None and random.random() < 0.05
        reopened = final is not None and not rejected and random.random() < 0.03
        status = "rejected" if rejected else "reopened" if reopened else "resolved"
        status = status if final else "answered" if first else "assigned"
        due = final_due if first or not first_due else first_due
        if final is not None and random.random() < 0.3 and final + D < now:
            verdict = random.choices(("yes", "partial", "no"), (0.6, 0.25, 0.15))[0]
            data.feedback.append((len(data.feedback) + 1, iid, verdict, final + D))
        row = (iid, BLOCKS[iid % len(BLOCKS)], "обращение", status, False, False,
               1 + random.randrange(N_DEPTS), "social" if social else "portal", received,
               first_due, final_due, due, first, final, None if rejected else final,
               final if rejected else None, int(reopened), 0,
               1 + (random.random() < 0.2) * random.randint(1, 4), received, received)  # fmt: skip
        data.incidents.append(row)
    return data


def _reference_rows(session: Session) -> None:
    for code in BLOCKS:
        sql = "INSERT INTO blocks (code, name, sort_order, active) VALUES (:c, :c, 0, true)"
        session.execute(text(sql), {"c": code})
    for i in range(1, N_DEPTS + 1):
        sql = "INSERT INTO departments (id, code, name, active) VALUES (:i, :c, :n, true)"
        session.execute(text(sql), {"i": i, "c": f"d{i:02d}", "n": f"Отдел {i:02d}"})
    for code in ("social", "portal"):
        session.execute(text("INSERT INTO sla_policies (code, name) VALUES (:c, :c)"), {"c": code})
    session.commit()


def _sqlite_value(value: Any) -> Any:
    # The exact text SQLAlchemy's SQLite DateTime writes, so string comparisons agree.
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


def load_sqlite(engine: Engine, data: Data) -> None:
    """Bulk insert with executemany on the raw sqlite3 connection."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for table, cols, rows in _tables(data):
            sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            cur.executemany(sql, [tuple(map(_sqlite_value, row)) for row in rows])
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def load_postgres(engine: Engine, data: Data) -> None:
    """Bulk load with COPY FROM STDIN."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for table, cols, rows in _tables(data):
            with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def _tables(data: Data) -> Iterator[tuple[str, list[str], Iterable[tuple[Any, ...]]]]:
    yield "incidents", INC_COLS, data.incidents
    yield "answers", ANS_COLS, data.answers
    yield "citizen_feedback", FB_COLS, data.feedback


def _overdue(r: Any, t: datetime) -> bool:
    first_missing = r.first_answered_at is None or r.first_answered_at >= t
    if r.first_answer_due_at is not None and r.first_answer_due_at < t and first_missing:
        return True
    if r.final_due_at is not None:
        return bool(r.final_due_at < t)
    return r.first_answer_due_at is None and r.due_at is not None and r.due_at < t


def _naive_flow(r: Any, g_final: Any, *, start: datetime, as_of: datetime) -> Counts:
    """Workload, backlog and decision tallies of one incident row."""
    decided = r.final_answered_at or r.resolved_at or r.closed_at
    if r.received_at >= as_of or (decided is not None and decided < start):
        return Counts()
    done = decided is not None and decided < as_of
    late_due = r.final_due_at or r.due_at
    new = r.received_at >= start
    merits = r.status != "rejected" and r.reopen_count == 0 and g_final and g_final < as_of
    return Counts(
        received=int(new),
        messages=r.message_count if new else 0,
        workload=1,
        overdue_open=int(not done and _overdue(r, as_of)),
        late_decided=int(done and late_due is not None and decided > late_due),
        decided=int(done),
        merits=int(bool(done and merits)),
        reopened=int(done and r.reopen_count > 0),
        rejected=int(done and r.status == "rejected"),
    )


def _naive_speed(r: Any, slot: Any, *, start: datetime, as_of: datetime) -> bool | None:
    """On time (True/False) when the row is judged in the period, else None."""
    due = r.first_answer_due_at or r.final_due_at
    if r.received_at >= as_of or due is None or due < start:
        return None
    answer = slot[0] if r.first_answer_due_at is not None else slot[1]
    on_time = answer is not None and answer <= due
    verdict_at = answer if answer is not None and on_time else due
    return on_time if start <= verdict_at < as_of else None


def naive_week(
    rows: list[Any], genuine: dict[int, list[Any]], answers: list[Any], feedback: list[Any],
    *, start: datetime, as_of: datetime, calendar: WorkCalendar,
) -> list[UnitInput]:  # fmt: skip
    """Every metric counted in Python over all rows (the baseline)."""
    counts: dict[int, Counts] = defaultdict(Counts)
    hours: dict[int, list[float]] = defaultdict(list)
    dept_of = {}
    for r in rows:
        dept_of[r.id] = r.department_id
        slot = genuine.get(r.id, (None, None))
        counts[r.department_id] += _naive_flow(r, slot[1], start=start, as_of=as_of)
        on_time = _naive_speed(r, slot, start=start, as_of=as_of)
        if on_time is not None:
            counts[r.department_id] += Counts(judged=1, on_time=int(on_time))
            until = as_of if slot[0] is None else min(slot[0], as_of)
            spent = calendar.working_time_between(r.received_at, until)
            hours[r.department_id].append(spent.total_seconds() / 3600)
    for a in answers:
        if start <= (a.published_at or a.created_at) < as_of:
            counts[dept_of[a.incident_id]] += Counts(answers=1, formal_answers=int(a.formal_reply))
    for f in feedback:
        if start <= f.created_at < as_of:
            counts[dept_of[f.incident_id]] += Counts(**{f"verdict_{f.verdict}": 1})
    names = {i: (f"d{i:02d}", f"Отдел {i:02d}") for i in range(1, N_DEPTS + 1)}
    return [
        UnitInput(key=key, name=name, counts=counts[i], answer_hours=(*hours[i],))
        for i, (key, name) in names.items()
    ]


def naive_compute(
    session: Session, *, week: str, calendar: WorkCalendar, now: datetime
) -> RatingResult:
    """Load everything, then rate the week and the previous one in Python."""
    rows = list(session.execute(select(Incident.__table__)))
    answers = list(session.execute(select(Answer.__table__)))
    feedback = list(session.execute(select(CitizenFeedback.__table__)))
    genuine: dict[int, list[Any]] = {}
    for a in answers:
        if a.formal_reply:
            continue
        moment, slot = (
            a.published_at or a.created_at,
            genuine.setdefault(a.incident_id, [None, None]),
        )
        for i in (0, 1) if a.kind == "final" else (0,):
            slot[i] = moment if slot[i] is None else min(slot[i], moment)
    results = []
    for label in (shift_week(week, -1), week):
        start, end = week_bounds(label, calendar.tz)
        inputs = naive_week(
            rows, genuine, answers, feedback, start=start, as_of=min(now, end), calendar=calendar
        )
        results.append(score_units(units=inputs, config=CONFIG))
    previous = {u.key: u.rank for u in results[0]}
    start, end = week_bounds(week, calendar.tz)
    units = tuple(apply_previous_ranks(units=results[1], previous=previous))
    return RatingResult(
        week=week,
        timezone=TZ,
        start=start,
        end=end,
        as_of=min(now, end),
        computed_at=now,
        config=CONFIG,
        units=units,
    )


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    value = fn()
    return time.perf_counter() - began, value


def run_backend(name: str, engine: Engine, data: Data, args: argparse.Namespace) -> dict[str, str]:
    """Load the data, time the SQL and naive ratings, and compare them."""
    Base.metadata.create_all(engine)
    with session_factory(engine)() as session:
        _reference_rows(session)
    load = load_postgres if name == "postgresql" else load_sqlite
    t_load, _ = _timed(lambda: load(engine, data))
    start, end = week_bounds(args.week, args.calendar.tz)
    out = {"bulk load, s": f"{t_load:.1f}"}
    queries = {
        "flow_counts": repo.flow_counts,
        "merits_counts": repo.merits_counts,
        "speed_rows": repo.speed_rows,
        "answer_counts": repo.answer_counts,
        "verdict_counts": repo.verdict_counts,
    }
    with session_factory(engine)() as s:
        fetched: dict[str, Any] = {}
        for label, query in queries.items():
            seconds, fetched[label] = _timed(partial(query, s, start=start, as_of=end))
            out[f"  {label}, s"] = f"{seconds:.3f}"
        out["  judged rows fetched"] = f"{len(fetched['speed_rows']):,}"
        kw = {"week": args.week, "calendar": args.calendar, "now": args.now}
        t_sql, sql = _timed(lambda: compute_week(s, weights=CONFIG, **kw))
        t_naive, naive = _timed(lambda: naive_compute(s, **kw))
        # On Mondays the previous week is already published: its ranks come from the
        # snapshot and only the reported week is computed (the figure of the target).
        previous = shift_week(args.week, -1)
        publish_snapshot(s, week=previous, calendar=args.calendar, weights=CONFIG, now=args.now)
        s.commit()
        monday = sorted(_timed(lambda: compute_week(s, weights=CONFIG, **kw))[0] for _ in range(3))
    out["SQL compute_week (2 weeks), s"] = f"{t_sql:.2f}"
    out["SQL, previous week published, s"] = f"{monday[1]:.2f}"
    out["naive load-all (2 weeks), s"] = f"{t_naive:.2f}"
    out["naive / SQL"] = f"{t_naive / t_sql:.1f}x"
    out["same result"] = "yes" if to_json_dict(sql) == to_json_dict(naive) else "NO"
    top = next(u for u in sql.units if u.rank == 1)
    out["top unit (index)"] = f"{top.key} ({top.index:.1f})"
    return out


def _engine(name: str, args: argparse.Namespace, tmp: Path) -> Engine:
    if name == "sqlite":
        return make_engine(f"sqlite:///{tmp / 'bench_rating.db'}")
    return fresh_schema(args.pg_url, PG_SCHEMA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="incidents in total")
    parser.add_argument("--weeks", type=int, default=52, help="weeks the incidents span")
    parser.add_argument("--week", default="2026-W47", help="the week to rate (the last one)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()
    with (ROOT / "config" / "calendar.yaml").open(encoding="utf-8") as fh:
        args.calendar = WorkCalendar.from_mapping(yaml.safe_load(fh), tz=TZ)
    _, end = week_bounds(args.week, TZ)
    args.now = end + 9 * H
    t_gen, data = _timed(
        lambda: generate(n=args.n, span_start=end - args.weeks * 7 * D, span_end=end, now=args.now)
    )
    print(
        f"rating bench: {args.n:,} incidents over {args.weeks} weeks, {len(data.answers):,} "
        f"answers, {len(data.feedback):,} verdicts; generated in {t_gen:.1f} s; week {args.week}"
    )
    columns: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.backends.split(","):
            engine = _engine(name, args, Path(tmp))
            try:
                columns[name] = run_backend(name, engine, data, args)
            except Exception as exc:  # a bench reports, it does not stop on one backend
                columns[name] = {"error": f"{type(exc).__name__}: {str(exc)[:80]}"}
            finally:
                engine.dispose()
                if name == "postgresql":
                    drop_schema(args.pg_url, PG_SCHEMA)
    rows = list(dict.fromkeys(k for col in columns.values() for k in col))
    print(f"{'':34}" + "".join(f"{name:>16}" for name in columns))
    for row in rows:
        print(f"{row:34}" + "".join(f"{col.get(row, ''):>16}" for col in columns.values()))


if __name__ == "__main__":
    main()
