"""A paused incident whose clock stands is not overdue: lists, triage, dashboard, API, card.

The deadlines are moved into the past by hand, as if they had passed during the pause
(the stored `due_at` moves only on resume, docs/sla.md «Пауза»). A 59-ФЗ calendar-day term
keeps running through a pause, so such a paused incident is still overdue.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from core.models import Incident
from tests.integration.web.conftest import Web
from web.repository import dashboard
from web.repository.scope import IncidentScope


def _set_due(web: Web, key: str, due: datetime, *, fz59: bool = False) -> Incident:
    """Make the pending deadline `due` (a final 59-ФЗ term when `fz59`); commits."""
    incident = web.fresh(key)
    if fz59:
        incident.sla_policy = "fz59"
        incident.first_answer_due_at, incident.final_due_at = None, due
    else:
        incident.first_answer_due_at = due
    incident.due_at = due
    web.world.session.commit()
    return incident


def _pause(web: Web, key: str) -> None:
    incident = web.world.incidents[key]
    web.post(f"/incidents/{incident.id}/status", {"to_status": "paused"})
    assert web.fresh(key).status == "paused"


def _fragment(page: str, number: str | None, start: str, end: str) -> str:
    """The enclosing element (from `start` to `end`) of the place where `number` appears."""
    assert number is not None and number in page
    at = page.index(number)
    return page[page.rindex(start, 0, at) : page.index(end, at)]


def _paused_and_overdue(web: Web) -> dict[str, Incident]:
    """housing: paused (clock stopped); social: paused on 59-ФЗ; roads: running, overdue."""
    web.login("operator")
    _pause(web, "housing")
    _pause(web, "social")
    past = datetime.now(UTC) - timedelta(hours=3)
    return {
        "housing": _set_due(web, "housing", past),
        "social": _set_due(web, "social", past - timedelta(days=1), fz59=True),
        "roads": _set_due(web, "roads", past),
    }


def test_a_paused_incident_past_its_deadline_is_not_in_the_overdue_list(web: Web) -> None:
    inc = _paused_and_overdue(web)
    page = web.client.get("/incidents", params={"overdue": "1"}).text
    assert inc["roads"].number in page and inc["social"].number in page
    assert inc["housing"].number not in page
    assert "Найдено: 2<" in page
    api = web.client.get("/api/v1/incidents", params={"overdue": "1"}).json()
    assert {item["id"] for item in api["items"]} == {inc["roads"].id, inc["social"].id}
    assert api["total"] == 2


def test_the_dashboard_does_not_count_a_paused_clock_as_overdue(web: Web) -> None:
    _paused_and_overdue(web)
    web.login("coordinator")
    page = web.client.get("/").text
    found = re.search(r"<b>([\d\u202f]+)</b><span>просрочено сейчас</span>", page)
    assert found and found.group(1) == "2"  # roads and the 59-ФЗ one, not housing


def test_lists_and_triage_show_the_pause_instead_of_an_overdue_deadline(web: Web) -> None:
    inc = _paused_and_overdue(web)
    table = web.client.get("/incidents", params={"status": "paused"}).text
    housing = _fragment(table, inc["housing"].number, "<tr", "</tr>")
    assert "срок на паузе" in housing
    assert "просрочено" not in housing and 'class="overdue"' not in housing
    fz59 = _fragment(table, inc["social"].number, "<tr", "</tr>")
    assert "просрочено" in fz59 and 'class="overdue"' in fz59
    assert "срок на паузе" not in fz59

    queue = web.client.get("/triage/list", params={"status": "open"}).text
    item = _fragment(queue, inc["housing"].number, "<article", "</article>")
    assert "(срок на паузе)" in item and "просрочено" not in item
    roads = _fragment(queue, inc["roads"].number, "<article", "</article>")
    assert "просрочено" in roads and 'class="overdue"' in roads


def test_due_today_leaves_out_a_paused_clock(web: Web) -> None:
    web.login("operator")
    _pause(web, "housing")
    soon = datetime.now(UTC) + timedelta(hours=1)
    _set_due(web, "housing", soon)
    _set_due(web, "roads", soon)
    window = {"start": soon - timedelta(minutes=30), "end": soon + timedelta(minutes=30)}
    scope = IncidentScope()
    session = web.world.session
    assert dashboard.due_between(session, scope=scope, **window) == 1  # roads only
    assert dashboard.overdue_now(session, scope=scope, now=soon + timedelta(minutes=1)) == 1


def test_the_card_of_an_incident_paused_after_its_deadline_is_not_red(web: Web) -> None:
    web.login("operator")
    _set_due(web, "housing", datetime.now(UTC) - timedelta(hours=3))
    _pause(web, "housing")
    page = web.client.get(f"/incidents/{web.world.incidents['housing'].id}").text
    panel = page[page.index("<h2>Сроки</h2>") :]
    panel = panel[: panel.index("</section>")]
    assert 'class="clock paused"' in panel and "приостановлено" in panel
    assert "clock overdue" not in panel
