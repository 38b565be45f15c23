"""Staff accounts and sources in the admin UI (source secrets are write-only)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.errors import ConflictError, NotFoundError
from core.models import ROLES, Block, Department, Source, User, UserBlock


@dataclass(frozen=True)
class UserRow:
    user: User
    department: str | None
    blocks: list[str]


def users(session: Session) -> list[UserRow]:
    """Every account with its department and blocks."""
    blocks: dict[int, list[str]] = defaultdict(list)
    for uid, code in session.execute(select(UserBlock.user_id, UserBlock.block_code)):
        blocks[uid].append(code)
    stmt = (
        select(User, Department.name)
        .outerjoin(Department, Department.id == User.department_id)
        .order_by(User.role, User.username)
    )
    return [UserRow(u, d, sorted(blocks[u.id])) for u, d in session.execute(stmt)]


def _check_role_fields(
    session: Session, *, role: str, department_id: int | None, blocks: list[str]
) -> None:
    if role not in ROLES:
        raise ConflictError(f"Неизвестная роль «{role}»")
    if role == "executor" and department_id is None:
        raise ConflictError("Исполнителю нужен отдел")
    if department_id is not None and session.get(Department, department_id) is None:
        raise NotFoundError("Нет такого отдела")
    unknown = [code for code in blocks if session.get(Block, code) is None]
    if unknown:
        raise NotFoundError(f"Нет блоков: {', '.join(unknown)}")


def create_user(
    session: Session,
    *,
    username: str,
    full_name: str,
    role: str,
    password_hash: str,
    department_id: int | None,
    blocks: list[str],
) -> User:
    """A new account; the login must be unique."""
    username = username.strip()[:80]
    if not username:
        raise ConflictError("Укажите логин")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ConflictError(f"Пользователь «{username}» уже существует")
    _check_role_fields(session, role=role, department_id=department_id, blocks=blocks)
    user = User(
        username=username,
        full_name=full_name.strip()[:200],
        role=role,
        password_hash=password_hash,
        department_id=department_id,
    )
    session.add(user)
    session.flush()
    set_blocks(session, user_id=user.id, blocks=blocks if role == "sector_head" else [])
    return user


def get_user(session: Session, *, user_id: int) -> User:
    """The account; NotFoundError when absent."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("Нет такого пользователя")
    return user


def set_blocks(session: Session, *, user_id: int, blocks: list[str]) -> None:
    """Replace the blocks a sector head answers for."""
    session.execute(delete(UserBlock).where(UserBlock.user_id == user_id))
    for code in dict.fromkeys(blocks):
        session.add(UserBlock(user_id=user_id, block_code=code))
    session.flush()


def update_user(
    session: Session, *, user_id: int, role: str, department_id: int | None, blocks: list[str]
) -> None:
    """Change the role, department and blocks of an account."""
    user = get_user(session, user_id=user_id)
    _check_role_fields(session, role=role, department_id=department_id, blocks=blocks)
    user.role, user.department_id = role, department_id
    set_blocks(session, user_id=user.id, blocks=blocks if role == "sector_head" else [])


def active_admins(session: Session) -> int:
    """How many active admins there are (the last one may not be locked out)."""
    stmt = select(User.id).where(User.role == "admin", User.active.is_(True))
    return len(list(session.scalars(stmt)))


def sources(session: Session) -> list[Source]:
    """All sources by name."""
    return list(session.scalars(select(Source).order_by(Source.name)))


def get_source(session: Session, *, source_id: int) -> Source:
    """The source; NotFoundError when absent."""
    source = session.get(Source, source_id)
    if source is None:
        raise NotFoundError("Нет такого источника")
    return source
