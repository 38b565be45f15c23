"""Play the demo history: process past messages at their own time, then let departments act.

Departments get different diligence so the weekly rating has something to rank: some
answer fast and concretely, some late, some with «отписки», some not at all.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app import repository as app_repo
from app.context import AppContext
from app.pipeline import process_messages
from core.calendar import WorkCalendar
from core.db import session_scope
from core.models import Incident, User
from incidents import service

# Share of incidents each department handles well (others: late, formal or no answer).
_DILIGENCE = {
    "gkh": 0.7,
    "roads_transport": 0.55,
    "architecture": 0.8,
    "economy": 0.9,
    "agriculture": 0.85,
    "kumi": 0.5,
    "education": 0.95,
    "culture": 0.9,
    "social_support": 0.9,
    "gochs": 0.97,
}

# Concrete work per block, so demo answers differ the way real ones do.
_WORK = {
    "housing": (
        "заменён участок трубопровода в подвале",
        "прочищен стояк канализации",
        "восстановлена подача горячей воды",
        "отремонтирована кровля над подъездом",
    ),
    "roads": (
        "выполнен ямочный ремонт покрытия",
        "проведена расчистка дороги от снега",
        "установлен новый дорожный знак",
        "отсыпан щебнем проезд",
    ),
    "energy": (
        "заменён светильник уличного освещения",
        "восстановлено электроснабжение",
        "заменён провод на опоре ВЛ",
    ),
    "waste": (
        "мусор вывезен, площадка убрана",
        "установлены два новых контейнера",
        "ликвидирована стихийная свалка",
    ),
    "transport": ("восстановлен рейс по расписанию", "установлен павильон на остановке"),
    "social": ("проведена проверка и выданы предписания", "выполнен ремонт в помещении"),
    "emergency": (
        "откачана вода из подвалов",
        "убраны опасные наледи с кровли",
        "спилено аварийное дерево",
    ),
}
_PEOPLE = (
    "Иванова Н. П.",
    "Петров С. А.",
    "Ким Д. В.",
    "Соловьёва Е. Г.",
    "Гуревич М. Л.",
    "Данилов А. И.",
    "Шестакова О. Р.",
)
_FINALS = (
    "{date} {work}. Работы выполнены силами {dept}, ответственный — {person}.",
    "Сообщаем: по адресу из обращения {work} ({date}). Контроль — {person}, {dept}.",
    "По вашему обращению «{title}» {work} {date}. Исполнитель: {person} ({dept}).",
)
_INTERIMS = (
    "Обращение в работе у специалиста {person} ({dept}); выезд бригады запланирован до {date}.",
    "{dept}: выезд на место запланирован на {date}, ответственный — {person}.",
)
_FORMAL = "Ваше обращение рассмотрено. Информация принята к сведению."


def _answer(
    templates: tuple[str, ...], incident: Incident, *, rng: random.Random, dept_name: str, date: str
) -> str:
    work = rng.choice(_WORK.get(incident.block_code, ("выполнены необходимые работы",)))
    return rng.choice(templates).format(
        date=date, work=work, dept=dept_name, person=rng.choice(_PEOPLE), title=incident.title[:60]
    )


def _published_answer(
    session: Session,
    incident: Incident,
    executor: User | None,
    *,
    kind: str,
    text: str,
    at: datetime,
    cal: WorkCalendar,
) -> None:
    # Demo answers are public and, their channels being invented, delivered at once.
    answer = service.add_answer(
        session, incident=incident, author=executor, kind=kind, text=text, now=at, calendar=cal
    )
    answer.published_at = answer.delivered_at = at


def _process_history(ctx: AppContext, advance: Callable[[int], None]) -> None:
    while True:
        with session_scope(ctx.engine) as session:
            batch = app_repo.oldest_new_messages(session, limit=20)
            if not batch:
                return
            for message in batch:
                process_messages(ctx, session, [message], now=message.received_at)
        advance(len(batch))


def _act(
    session: Session,
    ctx: AppContext,
    incident: Incident,
    *,
    now: datetime,
    rng: random.Random,
    executor: User | None,
    dept_code: str,
    dept_name: str,
) -> None:
    cal = ctx.calendar
    good = rng.random() < _DILIGENCE.get(dept_code, 0.7)
    first_at = cal.add_working_hours(
        incident.received_at, rng.uniform(0.5, 6) if good else rng.uniform(6, 40)
    )
    if first_at >= now:
        return
    service.change_status(
        session,
        incident=incident,
        to_status="in_progress",
        actor=executor,
        now=first_at,
        calendar=cal,
    )
    if not good and rng.random() < 0.5:
        _published_answer(
            session, incident, executor, kind="final", text=_FORMAL, at=first_at, cal=cal
        )
        return
    promise = cal.end_of_working_days(first_at, 3).astimezone(cal.tz).strftime("%d.%m.%Y")
    interim = _answer(_INTERIMS, incident, rng=rng, dept_name=dept_name, date=promise)
    _published_answer(
        session, incident, executor, kind="interim", text=interim, at=first_at, cal=cal
    )
    final_at = cal.end_of_working_days(first_at, rng.randint(1, 4)) - timedelta(
        hours=rng.randint(1, 6)
    )
    if final_at >= now:
        return
    done = final_at.astimezone(cal.tz).strftime("%d.%m.%Y")
    final = _answer(_FINALS, incident, rng=rng, dept_name=dept_name, date=done)
    _published_answer(session, incident, executor, kind="final", text=final, at=final_at, cal=cal)
    verdict_at = final_at + timedelta(hours=rng.randint(2, 30))
    if verdict_at < now and rng.random() < 0.7:
        verdict = rng.choices(["yes", "partial", "no"], weights=[0.7, 0.2, 0.1])[0]
        service.record_feedback(
            session,
            incident=incident,
            verdict=verdict,
            comment=None,
            channel="demo",
            now=verdict_at,
            calendar=cal,
        )


def _handle_history(ctx: AppContext, *, now: datetime) -> None:
    rng = random.Random(47)
    with session_scope(ctx.engine) as session:
        departments = app_repo.departments_by_id(session)
        executors = app_repo.executors_by_department(session)
        incidents = app_repo.assigned_incidents(session)
        for incident in incidents:
            dept = departments.get(incident.department_id or -1)
            if dept is None:
                continue
            _act(
                session,
                ctx,
                incident,
                now=now,
                rng=rng,
                executor=executors.get(dept.id),
                dept_code=dept.code,
                dept_name=dept.name,
            )


def play_history(ctx: AppContext, *, now: datetime, advance: Callable[[int], None]) -> None:
    """Process stored history messages in time order, then simulate the departments' work."""
    _process_history(ctx, advance)
    _handle_history(ctx, now=now)
