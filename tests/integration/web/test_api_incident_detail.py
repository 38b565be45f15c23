"""`GET /api/v1/incidents/{id}`: one incident as JSON, in the caller's scope only."""

from __future__ import annotations

from datetime import datetime

from tests.integration.web.conftest import XSS, Web


def test_an_operator_reads_one_incident_with_its_messages_clocks_and_history(web: Web) -> None:
    incident = web.world.incidents["housing"]
    web.login("operator")
    response = web.client.get(f"/api/v1/incidents/{incident.id}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["id"] == incident.id and body["number"] == incident.number
    assert body["block"] == "housing" and body["status"] == incident.status
    assert body["place"]["settlement"] == "Амурзет"
    # The citizen's text and name come back as data, exactly as written (JSON, not HTML).
    (message,) = body["messages"]
    assert message["text"] == f"Прорыв трубы {XSS}" and message["author"] == XSS
    assert message["source_kind"] == "vk"
    assert body["history"][0]["action"] == "created"
    assert body["clocks"], "an open incident has at least one deadline"
    for clock in body["clocks"]:
        datetime.fromisoformat(clock["due_at"])
        assert isinstance(clock["working_seconds_left"], int)
        assert clock["overdue"] is (clock["working_seconds_left"] < 0 and not clock["done_at"])
    assert body["answers"] == [] and body["feedback"] == []


def test_out_of_scope_and_missing_incidents_are_404(web: Web) -> None:
    incidents = web.world.incidents
    web.login("roads_head")
    assert web.client.get(f"/api/v1/incidents/{incidents['roads'].id}").status_code == 200
    assert web.client.get(f"/api/v1/incidents/{incidents['housing'].id}").status_code == 404
    web.login("exec_gkh")
    assert web.client.get(f"/api/v1/incidents/{incidents['housing'].id}").status_code == 200
    assert web.client.get(f"/api/v1/incidents/{incidents['roads'].id}").status_code == 404
    assert web.client.get("/api/v1/incidents/999999").status_code == 404
    assert web.client.get("/api/v1/incidents/not-a-number").status_code == 422


def test_anonymous_callers_get_401(web: Web) -> None:
    incident = web.world.incidents["roads"]
    assert web.client.get(f"/api/v1/incidents/{incident.id}").status_code == 401
