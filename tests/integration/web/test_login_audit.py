"""The sign-in audit: a LoginEvent row for every attempt, and the newest ones on /admin."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from httpx import Response
from sqlalchemy import delete, select

from core.models import LoginEvent
from tests.integration.web.conftest import PASSWORD, XSS, XSS_ESCAPED, Web

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) audit-test"


def _attempt(web: Web, username: str, password: str, *, csrf: str | None = None) -> Response:
    page = web.client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    form = {"username": username, "password": password, "csrf": csrf or token.group(1)}
    return web.client.post(
        "/login", data=form, headers={"user-agent": BROWSER}, follow_redirects=False
    )


def _events(web: Web) -> list[LoginEvent]:
    session = web.world.session
    session.expire_all()
    return list(session.scalars(select(LoginEvent).order_by(LoginEvent.id)))


def test_a_failed_and_a_successful_login_each_write_an_event(web: Web) -> None:
    operator = web.world.users["operator"]
    assert _attempt(web, "operator", "wrong-password").status_code == 400
    assert _attempt(web, "operator", PASSWORD).status_code == 303
    failed, ok = _events(web)
    assert (failed.outcome, failed.username, failed.user_id) == (
        "bad_password",
        "operator",
        operator.id,
    )
    assert (ok.outcome, ok.username, ok.user_id) == ("ok", "operator", operator.id)
    for event in (failed, ok):
        assert event.ip == "testclient"
        assert event.user_agent == BROWSER
        assert abs(event.at - datetime.now(UTC)) < timedelta(minutes=5)


def test_unknown_login_stale_form_and_rate_limit_are_recorded(web: Web) -> None:
    assert _attempt(web, "nobody", "x").status_code == 400
    assert _attempt(web, "operator", PASSWORD, csrf="forged").status_code == 400
    for _ in range(5):
        _attempt(web, "admin", "wrong")
    assert _attempt(web, "admin", PASSWORD).status_code == 429
    events = _events(web)
    assert [(e.username, e.outcome, e.user_id) for e in events[:2]] == [
        ("nobody", "bad_password", None),
        ("operator", "csrf", None),
    ]
    assert [e.outcome for e in events[2:]] == ["bad_password"] * 5 + ["locked"]


def test_admin_page_shows_the_last_fifty_attempts_escaped(web: Web) -> None:
    session = web.world.session
    session.execute(delete(LoginEvent))
    start = datetime.now(UTC) - timedelta(days=1)
    session.add_all(
        LoginEvent(
            at=start + timedelta(minutes=i), username=f"user{i:02d}", ip="10.0.0.1", outcome="ok"
        )
        for i in range(60)
    )
    session.commit()
    _attempt(web, XSS, "x")
    web.login("admin")
    page = web.client.get("/admin")
    assert page.status_code == 200
    table = page.text.split('id="logins-title"', 1)[1].split("</table>", 1)[0]
    assert len(re.findall(r"<tr class=\"login-", table)) == 50
    assert "login-ok" in table and "login-bad_password" in table
    assert "неверный логин или пароль" in table
    assert XSS_ESCAPED in table and "<script>alert" not in page.text
    # The newest attempts are shown: the two just made and the latest seeded ones.
    assert "user59" in table and "user12" in table and "user11" not in table


def test_operator_cannot_see_the_login_audit(web: Web) -> None:
    web.login("operator")
    assert web.client.get("/admin").status_code == 403
