"""The lists of the card's forms are shared between requests, and never outlive a change.

web.pages.common.form_choices keeps them in the process's memo under the version of the
rows they are read from (web.repository.reference.choices_version, PostgreSQL); on SQLite
they are read afresh. Either way an edit in the admin pages, or a write by another process,
shows on the next page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, Executable, delete, insert, select, update
from sqlalchemy.orm import Session

from core.models import Block, Department, Incident, Settlement, User
from tests.integration.web.conftest import Web, engine_of
from web.repository import reference

NEW_NAME = "Отдел, переименованный администратором"


def _write(engine: Engine, statement: Executable) -> None:
    """Commit through a connection of its own, as another process would."""
    with engine.begin() as conn:
        conn.execute(statement)


def _card(web: Web, key: str = "housing") -> str:
    page = web.client.get(f"/incidents/{web.world.incidents[key].id}")
    assert page.status_code == 200
    return page.text


def _department(web: Web, code: str) -> Department:
    found = web.world.session.scalar(select(Department).where(Department.code == code))
    assert found is not None
    return found


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the lists were read from the database (one entry per read)."""
    reads: list[int] = []
    real = reference.form_choices

    def counted(session: Session) -> reference.FormChoices:
        reads.append(1)
        return real(session)

    monkeypatch.setattr(reference, "form_choices", counted)
    return reads


def test_an_admin_edit_shows_on_the_next_card(web: Web) -> None:
    web.login("admin")
    gkh = _department(web, "gkh")
    executor = web.world.users["exec_gkh"].full_name
    first = _card(web)
    assert gkh.name in first and executor in first
    renamed = web.post(f"/admin/departments/{gkh.id}", {"name": NEW_NAME, "active": "1"})
    assert renamed.status_code == 303
    page = _card(web)
    assert NEW_NAME in page and gkh.name not in page
    user_id = web.world.users["exec_gkh"].id
    assert web.post(f"/admin/users/{user_id}/active", {"active": ""}).status_code == 303
    assert executor not in _card(web)


def test_a_write_by_another_process_shows_on_the_next_card(web: Web) -> None:
    web.login("operator")
    assert "Отдел из другого процесса" not in _card(web)
    values = {"code": "elsewhere", "name": "Отдел из другого процесса", "active": True}
    _write(engine_of(web), insert(Department).values(**values))
    assert "Отдел из другого процесса" in _card(web)


def test_the_card_reads_the_lists_once_while_their_rows_stay(
    pg_web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _count_reads(monkeypatch)
    pg_web.login("operator")
    _card(pg_web)
    _card(pg_web, "roads")
    assert len(reads) == 1
    # A write elsewhere (an incident) is a new snapshot, not new lists.
    housing = pg_web.world.incidents["housing"].id
    _write(engine_of(pg_web), update(Incident).where(Incident.id == housing).values(title="x"))
    _card(pg_web)
    assert len(reads) == 1
    _write(engine_of(pg_web), update(Department).values(name=Department.name + "."))
    _card(pg_web)
    assert len(reads) == 2


def test_the_lists_are_read_afresh_when_the_memo_is_off(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _count_reads(monkeypatch)
    monkeypatch.setattr(web.client.app.state.web.settings, "web_cache_seconds", 0)  # type: ignore[attr-defined]
    web.login("operator")
    _card(web)
    _card(web, "roads")  # another card: the same one may come from the page cache
    assert len(reads) == 2


ROWS_CHANGES: dict[str, Callable[[Web], Executable]] = {
    "a block renamed": lambda w: update(Block).where(Block.code == "roads").values(name="Д"),
    "a block added": lambda w: insert(Block).values(code="new", name="Новый", sort_order=99),
    "a department deactivated": lambda w: update(Department).values(active=False),
    "an executor moved": lambda w: (
        update(User).where(User.id == w.world.users["exec_gkh"].id).values(department_id=None)
    ),
    "an operator made executor": lambda w: (
        update(User).where(User.id == w.world.users["operator"].id).values(role="executor")
    ),
    "a settlement added": lambda w: insert(Settlement).values(name="Новое село"),
}


@pytest.mark.parametrize("change", ROWS_CHANGES)
def test_the_rows_version_changes_with_any_row_the_lists_read(pg_web: Web, change: str) -> None:
    engine = engine_of(pg_web)
    before = _version(engine)
    assert _version(engine) == before
    _write(engine, ROWS_CHANGES[change](pg_web))
    assert _version(engine) != before


def test_the_rows_version_follows_a_removed_row(pg_web: Web) -> None:
    engine = engine_of(pg_web)
    before = _version(engine)
    _write(engine, insert(Settlement).values(name="Временное село"))
    added = _version(engine)
    _write(engine, delete(Settlement).where(Settlement.name == "Временное село"))
    assert added != before and _version(engine) == before  # the same rows as before


def test_the_rows_version_ignores_what_the_lists_do_not_read(pg_web: Web) -> None:
    engine = engine_of(pg_web)
    before = _version(engine)
    operator = pg_web.world.users["operator"].id
    _write(engine, update(User).where(User.id == operator).values(quiet_from="22:00"))
    _write(engine, update(Incident).values(title="другой заголовок"))
    assert _version(engine) == before


def test_sqlite_has_no_rows_version(web: Web) -> None:
    if engine_of(web).dialect.name == "postgresql":
        pytest.skip("the version is PostgreSQL's xmin")
    assert reference.choices_version(web.world.session) is None


def _version(engine: Engine) -> Any:
    with Session(engine) as session:
        version = reference.choices_version(session)
    assert version
    return version
