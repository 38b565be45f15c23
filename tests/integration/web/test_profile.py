"""`/profile`: Telegram link code, unlink, quiet hours; the admin's list of blocked bots."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from alerts.linking import complete_link
from core.models import TelegramLink, User
from tests.integration.web.conftest import Web


def link_of(web: Web, username: str) -> TelegramLink | None:
    """The user's link row as committed now."""
    session = web.world.session
    session.expire_all()
    user_id = web.world.users[username].id
    return session.scalar(select(TelegramLink).where(TelegramLink.user_id == user_id))


def user(web: Web, username: str) -> User:
    """The account as committed now."""
    web.world.session.expire_all()
    found = web.world.session.get(User, web.world.users[username].id)
    assert found is not None
    return found


def test_anonymous_visitors_are_sent_to_login(web: Web) -> None:
    response = web.client.get("/profile", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/profile"


@pytest.mark.parametrize("username", ["head", "exec_gkh", "roads_head", "coordinator"])
def test_every_staff_role_sees_an_unlinked_profile(web: Web, username: str) -> None:
    web.login(username)
    page = web.client.get("/profile")
    assert page.status_code == 200
    assert "Telegram не привязан" in page.text and "Привязать Telegram" in page.text
    assert 'href="/profile" aria-current="page">Профиль' in page.text


def test_a_one_time_code_is_shown_and_links_the_chat_through_the_bot(web: Web) -> None:
    web.login("roads_head")
    response = web.post("/profile/telegram/code")
    assert response.status_code == 303
    link = link_of(web, "roads_head")
    assert link is not None and link.link_code and not link.active
    assert link.code_expires_at is not None
    assert link.code_expires_at - datetime.now(UTC) <= timedelta(minutes=15)

    page = web.client.get("/profile").text
    assert f'<code class="secret">/start {html.escape(link.link_code)}</code>' in page
    assert "t.me/" not in page  # the bot's name is not configured

    session = web.world.session
    assert complete_link(session, code=link.link_code, chat_id=555, now=datetime.now(UTC))
    session.commit()
    page = web.client.get("/profile").text
    assert "Telegram привязан" in page and "/start" not in page and "Отвязать" in page


def test_unlink_stops_alerts(web: Web) -> None:
    session = web.world.session
    uid = web.world.users["exec_gkh"].id
    session.add(TelegramLink(user_id=uid, chat_id=777, active=True, linked_at=datetime.now(UTC)))
    session.commit()
    web.login("exec_gkh")
    assert "Telegram привязан" in web.client.get("/profile").text

    response = web.post("/profile/telegram/unlink")

    assert response.status_code == 303 and "notice=" in response.headers["location"]
    link = link_of(web, "exec_gkh")
    assert link is not None and not link.active and link.chat_id is None
    assert "Telegram не привязан" in web.client.get("/profile").text


@pytest.mark.parametrize("path", ["/profile/telegram/code", "/profile/telegram/unlink"])
def test_forms_without_the_csrf_token_are_refused(web: Web, path: str) -> None:
    web.login("roads_head")
    response = web.client.post(path, data={"csrf": "forged"}, follow_redirects=False)
    assert response.status_code == 403
    assert link_of(web, "roads_head") is None


def test_quiet_hours_are_saved_and_cleared(web: Web) -> None:
    web.login("coordinator")
    response = web.post("/profile/quiet", {"quiet_from": " 22:00", "quiet_to": "08:00 "})
    assert response.status_code == 303
    saved = user(web, "coordinator")
    assert (saved.quiet_from, saved.quiet_to) == ("22:00", "08:00")
    assert 'value="22:00"' in web.client.get("/profile").text

    assert web.post("/profile/quiet", {"quiet_from": "", "quiet_to": ""}).status_code == 303
    cleared = user(web, "coordinator")
    assert (cleared.quiet_from, cleared.quiet_to) == (None, None)


@pytest.mark.parametrize(
    ("start", "end", "error"),
    [
        ("25:00", "08:00", "ЧЧ:ММ"),
        ("22:00", "", "ЧЧ:ММ"),
        ("7:00", "08:00", "ЧЧ:ММ"),
        ("22:00", "22:00", "совпадают"),
        ("<b>", "08:00", "ЧЧ:ММ"),
    ],
)
def test_bad_quiet_hours_are_refused_with_a_reason(
    web: Web, start: str, end: str, error: str
) -> None:
    web.login("head")
    response = web.post("/profile/quiet", {"quiet_from": start, "quiet_to": end})
    assert response.status_code == 400
    assert error in response.text and 'class="error"' in response.text
    assert "<b>" not in response.text.split('name="quiet_from"')[1][:40]  # escaped echo
    saved = user(web, "head")
    assert (saved.quiet_from, saved.quiet_to) == (None, None)


def test_quiet_hours_need_the_csrf_token(web: Web) -> None:
    web.login("head")
    data = {"quiet_from": "22:00", "quiet_to": "08:00"}
    response = web.client.post("/profile/quiet", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert user(web, "head").quiet_from is None


def test_the_admin_sees_who_blocked_the_bot(web: Web) -> None:
    session = web.world.session
    blocked_at = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    session.add_all(
        [
            TelegramLink(
                user_id=web.world.users["exec_roads"].id, active=False, blocked_at=blocked_at
            ),
            TelegramLink(user_id=web.world.users["exec_gkh"].id, chat_id=9, active=True),
        ]
    )
    session.commit()
    web.login("admin")
    page = web.client.get("/admin").text
    section = page.split("Заблокировали бота")[1]
    assert "<b>exec_roads</b>" in section and "10.03.2026 12:00" in section
    assert "exec_gkh" not in section

    web.login("operator")
    assert web.client.get("/admin").status_code == 403
