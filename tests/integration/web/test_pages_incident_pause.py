"""The incident card of a paused incident shows its clock stopped, not counting down."""

from __future__ import annotations

from tests.integration.web.conftest import Web


def _clocks_panel(page: str) -> str:
    start = page.index("<h2>Сроки</h2>")
    return page[start : page.index("</section>", start)]


def test_a_paused_incident_shows_its_clock_stopped_and_resumes_it(web: Web) -> None:
    web.login("operator")
    housing = web.world.incidents["housing"]  # VK, social_normal: first answer in 8 h
    due_before = web.fresh("housing").first_answer_due_at
    assert 'data-clock="paused"' not in web.client.get(f"/incidents/{housing.id}").text

    web.post(f"/incidents/{housing.id}/status", {"to_status": "paused"})
    assert web.fresh("housing").status == "paused"
    panel = _clocks_panel(web.client.get(f"/incidents/{housing.id}").text)
    assert 'data-clock="paused"' in panel and "приостановлено" in panel
    assert 'class="clock paused"' in panel or 'overdue paused"' in panel

    web.post(f"/incidents/{housing.id}/status", {"to_status": "in_progress"})
    resumed = web.fresh("housing")
    assert resumed.status == "in_progress"
    assert due_before is not None and resumed.first_answer_due_at is not None
    assert resumed.first_answer_due_at >= due_before  # moved by the (wall-clock) pause, if any
    page = web.client.get(f"/incidents/{housing.id}").text
    assert "приостановлено" not in _clocks_panel(page) and "раб. времени" in _clocks_panel(page)
    assert "Работа возобновлена" in page
