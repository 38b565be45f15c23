"""The signed-in user is read afresh on every request: a change takes effect on the next one.

The card and the API are not stored pages (web.response_cache), so these go through
web.deps.current_user each time, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import Update, update

from core.models import User
from tests.integration.web.conftest import Web, engine_of


def _write(web: Web, statement: Update) -> None:
    """Commit through the test's own connection, as another process would."""
    with engine_of(web).begin() as conn:
        conn.execute(statement)


def test_a_deactivated_user_is_refused_on_the_next_request(web: Web) -> None:
    web.login("operator")
    card = f"/incidents/{web.world.incidents['housing'].id}"
    assert web.client.get(card).status_code == 200
    assert web.client.get("/api/v1/incidents").status_code == 200
    operator = web.world.users["operator"]
    _write(web, update(User).where(User.id == operator.id).values(active=False))
    page = web.client.get(card, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == f"/login?next={card}"
    assert web.client.get("/api/v1/incidents").status_code == 401


def test_a_changed_role_takes_effect_on_the_next_request(web: Web) -> None:
    web.login("operator")
    assert web.client.get("/triage").status_code == 200
    housing = f"/incidents/{web.world.incidents['housing'].id}"
    roads = f"/incidents/{web.world.incidents['roads'].id}"
    operator = web.world.users["operator"]
    executor = web.world.users["exec_gkh"]
    role = {"role": "executor", "department_id": executor.department_id}
    _write(web, update(User).where(User.id == operator.id).values(**role))
    assert web.client.get("/triage").status_code == 403
    # An executor sees what their department was given: housing, not roads.
    assert web.client.get(housing).status_code == 200
    assert web.client.get(roads).status_code == 404
