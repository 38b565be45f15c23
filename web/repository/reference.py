"""Reference lists for forms: blocks, departments, executors; users and their blocks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Integer,
    String,
    cast,
    func,
    literal,
    null,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from core.models import Block, Department, Settlement, User, UserBlock


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


@dataclass(frozen=True)
class FormChoices:
    """Every list the triage and incident forms offer, read in one round trip."""

    blocks: list[Choice]  # active blocks, rubricator order
    all_blocks: list[Choice]  # with the inactive ones (filters of old incidents)
    departments: list[Choice]  # active, by name
    executors: list[ExecutorChoice]  # active, by name
    settlements: list[str]  # the gazetteer, by name


def _choice_rows() -> Any:
    """blocks, departments, executors and settlements as one UNION ALL, each in its order."""
    none_int = null().cast(Integer)
    blocks = select(
        literal("b").label("kind"),
        Block.code.label("key"),
        Block.name.label("label"),
        none_int.label("dept"),
        Block.active.label("active"),
        Block.sort_order.label("ord"),
        Block.code.label("k1"),
        literal("").label("k2"),
    )
    departments = select(
        literal("d"),
        cast(Department.id, String),
        Department.name,
        none_int,
        Department.active,
        literal(0),
        Department.name,
        literal(""),
    )
    executors = select(
        literal("e"),
        cast(User.id, String),
        func.coalesce(func.nullif(User.full_name, ""), User.username),
        User.department_id,
        User.active,
        literal(0),
        User.full_name,
        User.username,
    ).where(User.role == "executor")
    settlements = select(
        literal("s"), Settlement.name, Settlement.name, none_int, true(), literal(0),
        Settlement.name, literal(""),
    )  # fmt: skip
    union = union_all(blocks, departments, executors, settlements).subquery()
    return select(union).order_by(union.c.kind, union.c.ord, union.c.k1, union.c.k2)


_CHOICE_ROWS = _choice_rows()


# The version of what form_choices reads (PostgreSQL): the xmin, i.e. the writing
# transaction, of every row it reads. A committed insert or update leaves a row whose xmin
# no row read before had (that transaction had not committed then; ids are reused only
# after four billion transactions), a delete takes one away: whatever changes, this
# multiset changes, and with it its digest. Users other than executors are left out, as
# form_choices leaves them out. One scalar, where the lists are tens or hundreds of rows.
_CHOICES_VERSION = text(
    """
    SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
        SELECT xmin::text AS x FROM blocks
        UNION ALL SELECT xmin::text FROM departments
        UNION ALL SELECT xmin::text FROM users WHERE role = 'executor'
        UNION ALL SELECT xmin::text FROM settlements
    ) AS rows_read
    """
)


def choices_version(session: Session) -> str | None:
    """A version of the rows `form_choices` reads, equal while none of them changed.

    None where the database keeps no such thing (SQLite): there the choices are read afresh.
    """
    if session.get_bind().dialect.name != "postgresql":
        return None
    return str(session.scalar(_CHOICES_VERSION) or "")  # NULL: no rows at all


def form_choices(session: Session) -> FormChoices:
    """Blocks, departments, executors and settlements for the forms of a page."""
    found = FormChoices([], [], [], [], [])
    for kind, key, label, dept, active, *_order in session.execute(_CHOICE_ROWS):
        if kind == "b":
            found.all_blocks.append(Choice(key, label))
            if active:
                found.blocks.append(Choice(key, label))
        elif kind == "d" and active:
            found.departments.append(Choice(key, label))
        elif kind == "e" and active:
            found.executors.append(ExecutorChoice(int(key), label, dept))
        elif kind == "s":
            found.settlements.append(key)
    return found
