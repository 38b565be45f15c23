"""Linking codes and the `mcu telegram` commands (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from alerts.linking import complete_link, create_link_code, deep_link, link_directly, unlink
from app.cli_telegram import telegram_app
from config.settings import get_settings
from core.db import get_engine
from core.errors import NotFoundError
from core.models import User
from tests.integration.alerts.conftest import EXEC_CHAT, NOW, World
from tests.integration.alerts.fake_bot_api import FakeBotApi

runner = CliRunner()


def _user(world: World, user_id: int) -> User:
    user = world.session.get(User, user_id)
    assert user is not None
    return user


def test_a_code_links_once_and_expires_after_15_minutes(world: World) -> None:
    user = _user(world, world.other_executor_id)
    code = create_link_code(world.session, user=user, now=NOW)
    assert 20 <= len(code) <= 40 and deep_link("@mcu_bot", code).endswith(f"mcu_bot?start={code}")
    late = NOW + timedelta(minutes=15)
    assert complete_link(world.session, code=code, chat_id=7, now=late) is None

    linked = complete_link(world.session, code=code, chat_id=7, now=late - timedelta(seconds=1))
    assert linked is not None and linked.id == user.id
    assert complete_link(world.session, code=code, chat_id=8, now=NOW) is None  # one-time


def test_a_chat_belongs_to_one_account(world: World) -> None:
    user = _user(world, world.other_executor_id)
    link_directly(world.session, username=user.username, chat_id=EXEC_CHAT, now=NOW)
    world.session.commit()
    old = world.link(world.executor_id)
    new = world.link(world.other_executor_id)
    assert old is not None and not old.active
    assert new is not None and new.active and new.chat_id == EXEC_CHAT
    assert unlink(world.session, user=user) and not unlink(world.session, user=user)
    with pytest.raises(NotFoundError):
        link_directly(world.session, username="nobody", chat_id=1, now=NOW)


@pytest.fixture
def cli_env(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The CLI pointed at the test database."""
    url = world.session.get_bind().url.render_as_string(hide_password=False)  # type: ignore[union-attr]
    monkeypatch.setenv("MCU_DATABASE_URL", url)
    get_settings.cache_clear()
    yield world
    get_settings.cache_clear()
    get_engine(url).dispose()
    get_engine.cache_clear()


def test_cli_link_and_unlink(cli_env: World) -> None:
    world = cli_env
    result = runner.invoke(telegram_app, ["link", "petrov", "9001"])
    assert result.exit_code == 0, result.output
    link = world.link(world.other_executor_id)
    assert link is not None and link.active and link.chat_id == 9001

    assert runner.invoke(telegram_app, ["unlink", "petrov"]).exit_code == 0
    unlinked = world.link(world.other_executor_id)
    assert unlinked is not None and not unlinked.active
    missing = runner.invoke(telegram_app, ["link", "nobody", "1"])
    assert missing.exit_code == 2 and "nobody" in missing.output


def test_cli_send_test_reaches_the_fake_server(cli_env: World, fake_api: FakeBotApi) -> None:
    result = runner.invoke(telegram_app, ["send-test", "ivanov"])
    assert result.exit_code == 0, result.output
    (call,) = fake_api.sent()
    assert call.params["chat_id"] == EXEC_CHAT
    assert "Проверка связи" in call.params["text"] and "Иванов И. И." in call.params["text"]

    unlinked = runner.invoke(telegram_app, ["send-test", "petrov"])
    assert unlinked.exit_code == 2 and "нет привязки" in unlinked.output


def test_cli_send_test_reports_a_blocked_bot(cli_env: World, fake_api: FakeBotApi) -> None:
    from .fake_bot_api import BLOCKED

    fake_api.fail_next("sendMessage", BLOCKED)
    result = runner.invoke(telegram_app, ["send-test", "ivanov"])
    assert result.exit_code == 2 and "blocked" in result.output


def test_real_telegram_ids_fit_the_chat_column(world: World) -> None:
    big = 7_123_456_789
    link_directly(world.session, username="petrov", chat_id=big, now=NOW)
    world.session.commit()
    link = world.link(world.other_executor_id)
    assert link is not None and link.chat_id == big
