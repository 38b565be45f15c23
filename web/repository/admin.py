"""Reference data edited in the admin UI: blocks, departments, routing, SLA, calendar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.errors import ConflictError, NotFoundError
from core.models import (
    Block,
    CalendarDay,
    Department,
    RoutingRule,
    SlaPolicy,
    User,
)

CALENDAR_KINDS = {
    "holiday": "нерабочий праздничный",
    "working_weekend": "рабочий выходной",
    "shortened": "сокращённый",
    "shortened_weekend": "рабочий выходной, сокращённый",
}


def blocks(session: Session) -> list[Block]:
    """All blocks in display order."""
    return list(session.scalars(select(Block).order_by(Block.sort_order, Block.code)))


def update_block(session: Session, *, code: str, name: str, sort_order: int, active: bool) -> None:
    """Rename, reorder or (de)activate a block."""
    block = session.get(Block, code)
    if block is None:
        raise NotFoundError(f"Нет блока «{code}»")
    if not name.strip():
        raise ConflictError("Название блока не может быть пустым")
    block.name, block.sort_order, block.active = name.strip()[:200], sort_order, active


def departments(session: Session) -> list[Department]:
    """All departments by name."""
    return list(session.scalars(select(Department).order_by(Department.name)))


def add_department(session: Session, *, code: str, name: str) -> Department:
    """A new department with a unique code."""
    code, name = code.strip()[:60], name.strip()[:300]
    if not code or not name:
        raise ConflictError("Укажите код и название отдела")
    if session.scalar(select(Department.id).where(Department.code == code)) is not None:
        raise ConflictError(f"Отдел с кодом «{code}» уже есть")
    dept = Department(code=code, name=name, active=True)
    session.add(dept)
    session.flush()
    return dept


def update_department(session: Session, *, dept_id: int, name: str, active: bool) -> None:
    """Rename or (de)activate a department."""
    dept = session.get(Department, dept_id)
    if dept is None:
        raise NotFoundError("Нет такого отдела")
    if not name.strip():
        raise ConflictError("Название отдела не может быть пустым")
    dept.name, dept.active = name.strip()[:300], active


@dataclass(frozen=True)
class RouteRow:
    rule: RoutingRule
    block: str
    department: str
    executor: str | None


def routes(session: Session) -> list[RouteRow]:
    """The routing table with names, by block then specificity."""
    stmt = (
        select(RoutingRule, Block.name, Department.name, User.full_name)
        .join(Block, Block.code == RoutingRule.block_code)
        .join(Department, Department.id == RoutingRule.department_id)
        .outerjoin(User, User.id == RoutingRule.executor_id)
        .order_by(Block.sort_order, RoutingRule.settlement, RoutingRule.street, RoutingRule.id)
    )
    return [RouteRow(rule, b, d, e) for rule, b, d, e in session.execute(stmt)]


def save_route(
    session: Session,
    *,
    rule_id: int | None,
    block: str,
    settlement: str | None,
    street: str | None,
    department_id: int,
    executor_id: int | None,
) -> RoutingRule:
    """Insert (rule_id None) or update one routing rule."""
    if session.get(Block, block) is None or session.get(Department, department_id) is None:
        raise NotFoundError("Неизвестный блок или отдел")
    rule = RoutingRule() if rule_id is None else session.get(RoutingRule, rule_id)
    if rule is None:
        raise NotFoundError("Нет такого правила")
    rule.block_code, rule.department_id, rule.executor_id = block, department_id, executor_id
    rule.settlement = (settlement or "").strip()[:120] or None
    rule.street = (street or "").strip()[:120] or None
    session.add(rule)
    session.flush()
    return rule


def delete_route(session: Session, *, rule_id: int) -> None:
    """Remove a routing rule."""
    session.execute(delete(RoutingRule).where(RoutingRule.id == rule_id))


def policies(session: Session) -> list[SlaPolicy]:
    """SLA policies by code."""
    return list(session.scalars(select(SlaPolicy).order_by(SlaPolicy.code)))


def update_policy(
    session: Session,
    *,
    code: str,
    first_hours: float | None,
    final_working_days: int | None,
    final_calendar_days: int | None,
    extension_days: int | None,
) -> None:
    """Change the terms of a policy (new incidents get them; existing deadlines stay)."""
    policy = session.get(SlaPolicy, code)
    if policy is None:
        raise NotFoundError(f"Нет политики «{code}»")
    if final_working_days is None and final_calendar_days is None:
        raise ConflictError("Нужен срок окончательного ответа: в рабочих или календарных днях")
    values = [first_hours, final_working_days, final_calendar_days, extension_days]
    if any(v is not None and v <= 0 for v in values):
        raise ConflictError("Сроки должны быть положительными")
    policy.first_answer_working_hours = first_hours
    policy.final_answer_working_days = final_working_days
    policy.final_answer_calendar_days = final_calendar_days
    policy.extension_calendar_days = extension_days


def calendar_days(session: Session, *, year: int) -> list[CalendarDay]:
    """Exception days of a year."""
    stmt = select(CalendarDay).where(
        CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)
    )
    return list(session.scalars(stmt.order_by(CalendarDay.day)))


def set_calendar_day(session: Session, *, day: date, kind: str) -> None:
    """Add or change an exception day."""
    if kind not in CALENDAR_KINDS:
        raise ConflictError("Неизвестный вид дня")
    found = session.get(CalendarDay, day)
    if found is None:
        session.add(CalendarDay(day=day, kind=kind))
    else:
        found.kind = kind


def remove_calendar_day(session: Session, *, day: date) -> None:
    """Drop an exception day (the date becomes an ordinary Mon–Fri day again)."""
    session.execute(delete(CalendarDay).where(CalendarDay.day == day))
