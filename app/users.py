"""Staff accounts and the demo set of the Положение's roles."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app import repository as app_repo
from core.errors import ConflictError, NotFoundError
from core.models import ROLES, User, UserBlock
from web.auth import hash_password


def add_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    full_name: str = "",
    position: str | None = None,
    department_code: str | None = None,
    blocks: tuple[str, ...] = (),
) -> User:
    """Create a staff account; refuse unknown roles, departments and duplicates."""
    if role not in ROLES:
        raise ConflictError(f"неизвестная роль {role!r}; допустимы: {', '.join(ROLES)}")
    if username in app_repo.usernames(session):
        raise ConflictError(f"пользователь {username!r} уже существует")
    department_id = None
    if department_code:
        department_id = app_repo.department_id(session, code=department_code)
        if department_id is None:
            raise NotFoundError(f"нет отдела с кодом {department_code!r}")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        full_name=full_name,
        position=position,
        department_id=department_id,
    )
    session.add(user)
    session.flush()
    for code in blocks:
        session.add(UserBlock(user_id=user.id, block_code=code))
    session.flush()
    return user
