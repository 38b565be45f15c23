"""Demo mode: the accounts of the Положение's roles and a few weeks of realistic history."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from rich.progress import Progress
from sqlalchemy.orm import Session

from app import repository as app_repo
from app.context import AppContext
from app.users import add_user
from collectors import repository as collectors_repo
from collectors.demo import demo_source_name, load_items, to_raw
from core.db import session_scope

DEMO_PASSWORD = "demo"

# (username, role, full name, position, blocks)
_STAFF: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    ("admin", "admin", "Администратор МЦУ", "Администратор", ()),
    (
        "coordinator",
        "coordinator",
        "Координатор МЦУ",
        "Заместитель главы администрации по внутренней политике",
        (),
    ),
    (
        "operator",
        "operator",
        "Оператор МЦУ",
        "Специалист по обработке инцидентов и ведению соцсетей",
        (),
    ),
    ("head", "head", "Глава района", "Глава муниципального района", ()),
    (
        "sector_econ",
        "sector_head",
        "Первый заместитель главы",
        "Первый заместитель главы администрации",
        (
            "roads",
            "housing",
            "energy",
            "waste",
            "transport",
            "construction",
            "economy",
            "consumer",
            "agriculture",
            "property",
        ),
    ),
    (
        "sector_social",
        "sector_head",
        "Заместитель главы по социальным вопросам",
        "Заместитель главы администрации по социальным вопросам",
        ("social",),
    ),
    (
        "sector_emergency",
        "sector_head",
        "Начальник отдела ГО и ЧС",
        "Начальник отдела ГО и ЧС",
        ("emergency",),
    ),
)


def demo_accounts(department_codes: tuple[str, ...] = ()) -> list[str]:
    """Logins the demo creates (executors need the department codes)."""
    return (
        [row[0] for row in _STAFF]
        + [f"executor_{code}" for code in department_codes]
        + ([] if department_codes else ["executor_<отдел>"])
    )


def ensure_demo_users(session: Session) -> int:
    """Create the demo staff and one executor per department; existing logins are kept."""
    existing = app_repo.usernames(session)
    created = 0
    for username, role, name, position, blocks in _STAFF:
        if username not in existing:
            add_user(
                session,
                username=username,
                password=DEMO_PASSWORD,
                role=role,
                full_name=name,
                position=position,
                blocks=blocks,
            )
            created += 1
    for dept in app_repo.departments(session):
        username = f"executor_{dept.code}"
        if username not in existing:
            add_user(
                session,
                username=username,
                password=DEMO_PASSWORD,
                role="executor",
                full_name=f"Исполнитель: {dept.name}",
                department_code=dept.code,
            )
            created += 1
    return created


@dataclass
class DemoSummary:
    users_created: int
    messages_stored: int
    incidents: int

    def __str__(self) -> str:
        return (
            f"Демо: новых учётных записей {self.users_created}, "
            f"сообщений в истории {self.messages_stored}, инцидентов всего {self.incidents}"
        )


def _history_times(*, days: int, now: datetime, rng: random.Random, per_day: int) -> list[datetime]:
    times = []
    for day in range(days, 0, -1):
        base = (now - timedelta(days=day)).replace(hour=0, minute=0, second=0, microsecond=0)
        for _ in range(per_day):
            # Citizens write mostly in the local daytime (UTC+10 → 22:00–12:00 UTC).
            times.append(
                base + timedelta(hours=rng.choice(range(22, 36)) % 24, minutes=rng.randrange(60))
            )
    return sorted(times)


def _store_history(session: Session, ctx: AppContext, *, days: int, now: datetime) -> int:
    rng = random.Random(20261121)
    items = load_items()
    stored = 0
    for seq, at in enumerate(_history_times(days=days, now=now, rng=rng, per_day=12)):
        item = items[rng.randrange(len(items))]
        raw = to_raw(item, seq=seq, at=at, secret=ctx.settings.secret_key)
        raw = replace(raw, external_id=f"hist-{seq}")
        source = collectors_repo.ensure_source(
            session, name=demo_source_name(item.channel), kind=item.channel, settings={"demo": True}
        )
        new, _dup = collectors_repo.store_messages(session, source=source, messages=[raw], now=at)
        stored += new
    return stored


def load_demo(ctx: AppContext, *, days: int = 21, progress: bool = False) -> DemoSummary:
    """Accounts plus `days` of history processed as if it had happened; safe to repeat."""
    from app.demo_history import play_history

    now = datetime.now(UTC)
    with session_scope(ctx.engine) as session:
        created = ensure_demo_users(session)
        has_history = app_repo.incident_count(session)
    stored = 0
    if not has_history and days > 0:
        with session_scope(ctx.engine) as session:
            stored = _store_history(session, ctx, days=days, now=now)
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task("Демо-история", total=stored)
            play_history(ctx, now=now, advance=lambda n: bar.advance(task, n))
    with session_scope(ctx.engine) as session:
        total = app_repo.incident_count(session)
    return DemoSummary(users_created=created, messages_stored=stored, incidents=total)
