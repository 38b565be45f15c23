"""Reference lists for forms: blocks, departments, executors; users and their blocks."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Block, Department, User, UserBlock


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


def user_by_username(session: Session, *, username: str) -> User | None:
    """The user with that login, if any."""
    return session.scalar(select(User).where(User.username == username))


def user_blocks(session: Session, *, user_id: int) -> list[str]:
    """Block codes a sector head answers for."""
    stmt = select(UserBlock.block_code).where(UserBlock.user_id == user_id)
    return sorted(session.scalars(stmt))


def block_choices(session: Session, *, active_only: bool = True) -> list[Choice]:
    """Blocks in the rubricator's order."""
    stmt = select(Block.code, Block.name).order_by(Block.sort_order, Block.code)
    if active_only:
        stmt = stmt.where(Block.active.is_(True))
    return [Choice(code, name) for code, name in session.execute(stmt)]


def block_names(session: Session) -> dict[str, str]:
    """Block code → name."""
    return {c.value: c.label for c in block_choices(session, active_only=False)}


def department_choices(session: Session) -> list[Choice]:
    """Active departments by name."""
    stmt = select(Department.id, Department.name).where(Department.active.is_(True))
    return [Choice(str(i), name) for i, name in session.execute(stmt.order_by(Department.name))]


@dataclass(frozen=True)
class ExecutorChoice:
    id: int
    name: str
    department_id: int | None


def executor_choices(session: Session) -> list[ExecutorChoice]:
    """Active executors with their department (the assign form filters by department)."""
    stmt = (
        select(User.id, User.full_name, User.username, User.department_id)
        .where(User.role == "executor", User.active.is_(True))
        .order_by(User.full_name, User.username)
    )
    return [
        ExecutorChoice(i, full or login, dept) for i, full, login, dept in session.execute(stmt)
    ]


def department_exists(session: Session, *, department_id: int) -> bool:
    """Whether an active department has this id."""
    dept = session.get(Department, department_id)
    return dept is not None and dept.active


def executor_in(session: Session, *, user_id: int, department_id: int) -> bool:
    """Whether the user is an active executor of the department."""
    user = session.get(User, user_id)
    return bool(
        user and user.active and user.role == "executor" and user.department_id == department_id
    )


def block_exists(session: Session, *, code: str) -> bool:
    """Whether an active block has this code."""
    block = session.get(Block, code)
    return block is not None and block.active
