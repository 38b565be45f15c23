"""Security of the web console: escaping, CSRF, role scopes, SQL injection, login limits."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from core.models import Answer, Incident, Message
from incidents import service
from tests.integration.web.conftest import XSS, XSS_ESCAPED, Web


def _assert_escaped(html: str) -> None:
    assert "<script>alert" not in html
    assert "<img src=x onerror" not in html
    assert XSS_ESCAPED in html


def test_citizen_text_author_and_address_are_escaped_on_staff_pages(web: Web) -> None:
    # «property» has no routing rule: the incident waits in the triage queue.
    web.world.add_incident(
        "xss_place", text=f"Сломана скамейка {XSS}", block="property", author=XSS, settlement=XSS
    )
    web.login("operator")
    housing = web.world.incidents["housing"]
    for path in ("/", "/triage", "/incidents", f"/incidents/{housing.id}"):
        page = web.client.get(path)
        assert page.status_code == 200, path
        _assert_escaped(page.text)
    card = web.client.get(f"/incidents/{web.world.incidents['xss_place'].id}").text
    _assert_escaped(card)
    assert "content-security-policy" in web.client.get("/").headers


def test_answer_text_is_escaped_on_the_incident_page(web: Web) -> None:
    world = web.world
    incident = world.incidents["housing"]
    service.add_answer(
        world.session,
        incident=incident,
        author=world.users["exec_gkh"],
        kind="final",
        text=f"Ответ {XSS}",
        now=datetime.now(UTC),
        calendar=world.calendar,
    )
    world.session.commit()
    web.login("exec_gkh")
    _assert_escaped(web.client.get(f"/incidents/{incident.id}").text)


def _submit_report(web: Web, text: str, contact: str) -> str:
    token = re.search(r'name="csrf" value="([^"]+)"', web.client.get("/report").text)
    assert token
    form = {"csrf": token.group(1), "text": text, "place": XSS, "contact": contact}
    response = web.client.post("/report", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text[:300]
    return str(response.headers["location"]).split("?")[0].rsplit("/", 1)[1]


def test_track_page_shows_only_status_and_escaped_answers(web: Web) -> None:
    number = _submit_report(web, f"Нет света во дворе {XSS}", contact="+7 999 123-45-67")
    world = web.world
    msg = world.session.scalar(select(Message).where(Message.external_id == number))
    assert msg is not None
    incident = world.incidents["housing"]
    msg.incident_id = incident.id
    answer = service.add_answer(
        world.session,
        incident=incident,
        author=world.users["exec_gkh"],
        kind="interim",
        text=f"Бригада выехала {XSS}",
        now=datetime.now(UTC),
        calendar=world.calendar,
    )
    answer.published_at = datetime.now(UTC)
    world.session.commit()
    page = web.client.get(f"/track/{number}").text
    _assert_escaped(page)
    assert "Бригада выехала" in page
    for private in ("+7 999", "Нет света во дворе", "Прорыв трубы", "Житель", "Сотрудник"):
        assert private not in page


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/triage/{id}/block", {"block": "roads"}),
        ("/triage/{id}/assign", {"department_id": "1"}),
        ("/triage/{id}/merge", {"target": "1"}),
        ("/triage/bulk", {"ids": "{id}", "action": "noise"}),
        ("/incidents/{id}/status", {"to_status": "in_progress"}),
        ("/incidents/{id}/answers", {"kind": "final", "text": "Ответ"}),
        ("/incidents/{id}/answers/check", {"text": "Ответ"}),
        ("/admin/departments", {"code": "x", "name": "Отдел X"}),
        ("/admin/users/{uid}/active", {"active": "0"}),
        ("/logout", {}),
    ],
)
def test_state_changes_without_csrf_token_are_refused(
    web: Web, path: str, data: dict[str, str]
) -> None:
    web.login("admin")
    incident = web.world.incidents["queue"]
    uid = web.world.users["operator"].id
    url = path.format(id=incident.id, uid=uid)
    body = {k: v.format(id=incident.id) for k, v in data.items()}
    missing = web.client.post(url, data=body, follow_redirects=False)
    wrong = web.client.post(url, data=body | {"csrf": "forged"}, follow_redirects=False)
    if path == "/logout":  # logout ignores a forged request rather than failing loudly
        assert web.client.get("/", follow_redirects=False).status_code == 200
        return
    assert missing.status_code == 403 and wrong.status_code == 403
    fresh = web.fresh("queue")
    assert (fresh.status, fresh.block_code, fresh.department_id) == ("new", "property", None)
    assert web.world.session.scalar(select(func.count(Answer.id))) == 0


def test_public_forms_need_the_csrf_token_too(web: Web) -> None:
    response = web.client.post("/report", data={"text": "Яма на дороге у дома"})
    assert response.status_code == 403
    assert web.world.session.scalar(select(func.count(Message.id))) == 4


def test_csrf_header_is_accepted_for_scripts(web: Web) -> None:
    web.login("operator")
    incident = web.world.incidents["housing"]
    response = web.client.post(
        f"/incidents/{incident.id}/answers/check",
        data={"text": "Принято к сведению"},
        headers={"X-CSRF-Token": web.token},
    )
    assert response.status_code == 200
    assert response.json()["flagged"] is True


def test_sector_head_sees_only_incidents_of_own_blocks(web: Web) -> None:
    incidents = web.world.incidents
    web.login("roads_head")
    assert web.client.get(f"/incidents/{incidents['roads'].id}").status_code == 200
    assert web.client.get(f"/incidents/{incidents['housing'].id}").status_code == 404
    refused = web.post(f"/incidents/{incidents['housing'].id}/status", {"to_status": "in_progress"})
    assert refused.status_code == 404
    assert web.fresh("housing").status == "assigned"
    listed = web.client.get("/api/v1/incidents").json()["items"]
    assert [item["id"] for item in listed] == [incidents["roads"].id]
    page = web.client.get("/incidents").text
    assert incidents["roads"].number in page and incidents["housing"].number not in page
    assert web.client.get("/triage").status_code == 403
    assert web.client.get("/admin").status_code == 403


def test_executor_sees_only_incidents_of_own_department(web: Web) -> None:
    incidents = web.world.incidents
    web.login("exec_gkh")
    assert web.client.get(f"/incidents/{incidents['housing'].id}").status_code == 200
    for key in ("roads", "social", "queue"):
        assert web.client.get(f"/incidents/{incidents[key].id}").status_code == 404
    listed = web.client.get("/api/v1/incidents").json()["items"]
    assert [item["id"] for item in listed] == [incidents["housing"].id]
    assert web.client.get("/rating").status_code == 403
    assign = web.post(f"/incidents/{incidents['housing'].id}/assign", {"department_id": "1"})
    assert assign.status_code == 403


@pytest.mark.parametrize("role", ["coordinator", "head"])
def test_read_only_roles_can_read_but_not_act(web: Web, role: str) -> None:
    incident = web.world.incidents["housing"]
    web.login(role)
    for path in ("/", "/rating", "/incidents", f"/incidents/{incident.id}"):
        assert web.client.get(path).status_code == 200, path
    assert (
        web.post(f"/incidents/{incident.id}/status", {"to_status": "in_progress"}).status_code
        == 403
    )
    assert web.post(f"/incidents/{incident.id}/answers", {"text": "Ответ"}).status_code == 403
    assert web.client.get("/triage").status_code == 403
    assert web.client.get("/admin/users").status_code == 403
    assert web.fresh("housing").status == "assigned"


def test_operator_cannot_open_admin(web: Web) -> None:
    web.login("operator")
    assert web.client.get("/admin").status_code == 403
    assert web.client.get("/admin/sources").status_code == 403
    response = web.post("/admin/users", {"username": "evil", "role": "admin", "password": "x" * 12})
    assert response.status_code == 403
    assert "Администрирование" not in web.client.get("/").text


def test_anonymous_visitors_are_sent_to_login_or_refused(web: Web) -> None:
    assert web.client.get("/triage", follow_redirects=False).status_code == 303
    assert web.client.get("/admin", follow_redirects=False).status_code == 303
    assert web.client.get("/api/v1/incidents").status_code == 401
    assert web.client.get("/report").status_code == 200


INJECTIONS = [
    "' OR 1=1 --",
    "x'; DROP TABLE incidents; --",
    '" OR ""="',
    "%' OR '1'='1",
    "\\'; SELECT pg_sleep(5); --",
]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_sql_injection_in_filters_is_harmless(web: Web, payload: str) -> None:
    web.login("operator")
    for name in ("q", "block", "kind", "settlement", "status"):
        for path in ("/triage", "/incidents", "/api/v1/incidents"):
            response = web.client.get(
                path, params={name: payload, "status": "" if name != "status" else payload}
            )
            assert response.status_code == 200, (path, name)
        found = web.client.get("/api/v1/incidents", params={name: payload}).json()
        assert found["items"] == [], name
    assert web.world.session.scalar(select(func.count(Incident.id))) == 4


def test_search_treats_wildcards_literally_and_finds_real_text(web: Web) -> None:
    web.login("operator")
    api = "/api/v1/incidents"
    assert web.client.get(api, params={"q": "%"}).json()["items"] == []
    assert web.client.get(api, params={"q": "_"}).json()["items"] == []
    found = web.client.get(api, params={"q": "яма"}).json()["items"]
    assert [i["id"] for i in found] == [web.world.incidents["roads"].id]
    by_message = web.client.get(api, params={"q": "ПРОРЫВ"}).json()["items"]
    assert [i["id"] for i in by_message] == [web.world.incidents["housing"].id]


def test_login_is_rate_limited_per_login_and_address(
    web: Web, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mcu.audit.login")
    client = web.client
    for _ in range(5):
        token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
        assert token
        form = {"username": "operator", "password": "wrong", "csrf": token.group(1)}
        assert client.post("/login", data=form).status_code == 400
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert token
    good = {"username": "operator", "password": "secret-pass-1", "csrf": token.group(1)}
    blocked = client.post("/login", data=good, follow_redirects=False)
    assert blocked.status_code == 429
    assert "Слишком много неудачных попыток" in blocked.text
    web.login("admin")  # another login from the same address is not affected
    outcomes = [r.__dict__.get("login_outcome") for r in caplog.records]
    assert outcomes.count("bad") == 5 and "rate_limited" in outcomes and "ok" in outcomes
