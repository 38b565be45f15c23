"""The staff bot: updates fed through the real aiogram dispatcher, replies to the fake Bot API."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiogram.types import Update

from alerts import bot as staff_bot
from alerts.bot import BotDeps, build_dispatcher
from alerts.linking import create_link_code
from alerts.telegram import make_bot
from core.errors import ConflictError
from core.models import User
from tests.integration.alerts.conftest import EXEC_CHAT, NOW, World
from tests.integration.alerts.fake_bot_api import FakeBotApi

STRANGER = 4242


class Actions:
    """Records what the bot asked the incidents layer to do."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.accepted: list[tuple[int, int]] = []
        self.assigned: list[tuple[int, int, int]] = []
        self.fail = fail

    def on_accept(self, user_id: int, incident_id: int) -> str:
        if self.fail:
            raise self.fail
        self.accepted.append((user_id, incident_id))
        return "Инцидент принят в работу"

    def on_assign(self, user_id: int, incident_id: int, executor_id: int) -> str:
        self.assigned.append((user_id, incident_id, executor_id))
        return "Исполнитель назначен"


def message_update(chat_id: int, text: str, chat_type: str = "private") -> dict[str, Any]:
    return {
        "update_id": 1,
        "message": {
            "message_id": 10,
            "date": int(NOW.timestamp()),
            "chat": {"id": chat_id, "type": chat_type},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Иван"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }


def callback_update(user_id: int, data: str) -> dict[str, Any]:
    return {
        "update_id": 2,
        "callback_query": {
            "id": "cb-1",
            "from": {"id": user_id, "is_bot": False, "first_name": "Иван"},
            "chat_instance": "ci",
            "data": data,
            "message": {
                "message_id": 77,
                "date": int(NOW.timestamp()),
                "chat": {"id": user_id, "type": "private"},
                "text": "alert",
            },
        },
    }


def feed(world: World, api: FakeBotApi, actions: Actions, *updates: dict[str, Any]) -> None:
    """Feed raw updates through a fresh dispatcher and Bot (closed afterwards)."""
    deps = BotDeps(
        sessions=world.sessions,
        on_accept=actions.on_accept,
        on_assign=actions.on_assign,
        clock=lambda: NOW,
    )

    async def go() -> None:
        bot = make_bot(api.token, api.base_url)
        dispatcher = build_dispatcher(deps)
        try:
            for raw in updates:
                await dispatcher.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))
        finally:
            await bot.session.close()

    asyncio.run(go())


def last_text(api: FakeBotApi, method: str = "sendMessage") -> str:
    calls = api.of(method)
    assert calls, f"no {method}"
    return str(calls[-1].params.get("text"))


def _code_for(world: World, user_id: int) -> str:
    user = world.session.get(User, user_id)
    assert user is not None
    code = create_link_code(world.session, user=user, now=NOW)
    world.session.commit()
    return code


def test_start_with_a_code_links_the_chat(world: World, fake_api: FakeBotApi) -> None:
    code = _code_for(world, world.other_executor_id)

    feed(world, fake_api, Actions(), message_update(5555, f"/start {code}"))

    link = world.link(world.other_executor_id)
    assert link is not None and link.active and link.chat_id == 5555
    assert link.link_code is None and link.linked_at == NOW
    assert last_text(fake_api).startswith("Готово")
    assert fake_api.of("sendMessage")[-1].params["chat_id"] == 5555


def test_start_with_a_bad_or_expired_code_is_refused(world: World, fake_api: FakeBotApi) -> None:
    code = _code_for(world, world.other_executor_id)
    feed(world, fake_api, Actions(), message_update(5555, "/start WRONGCODE"))
    assert last_text(fake_api) == staff_bot.BAD_CODE
    link = world.link(world.other_executor_id)
    assert link is not None and not link.active and link.link_code == code

    user = world.session.get(User, world.other_executor_id)
    assert user is not None
    create_link_code(world.session, user=user, now=NOW - timedelta(minutes=16))
    world.session.commit()
    stale = world.link(world.other_executor_id)
    assert stale is not None and stale.link_code is not None
    feed(world, fake_api, Actions(), message_update(5555, f"/start {stale.link_code}"))
    assert last_text(fake_api) == staff_bot.BAD_CODE


def test_start_in_a_group_is_refused(world: World, fake_api: FakeBotApi) -> None:
    code = _code_for(world, world.other_executor_id)
    feed(world, fake_api, Actions(), message_update(-100, f"/start {code}", chat_type="group"))
    assert last_text(fake_api) == staff_bot.PRIVATE_ONLY
    link = world.link(world.other_executor_id)
    assert link is not None and not link.active


def test_accept_button_acts_as_the_linked_user(world: World, fake_api: FakeBotApi) -> None:
    actions = Actions()
    feed(world, fake_api, actions, callback_update(EXEC_CHAT, f"acc:{world.incident_id}"))

    assert actions.accepted == [(world.executor_id, world.incident_id)]
    answer = fake_api.of("answerCallbackQuery")[-1].params
    assert answer["callback_query_id"] == "cb-1"
    assert answer["text"] == "Инцидент принят в работу"


def test_a_refused_action_shows_the_domain_message(world: World, fake_api: FakeBotApi) -> None:
    actions = Actions(fail=ConflictError("Инцидент уже закрыт"))
    feed(world, fake_api, actions, callback_update(EXEC_CHAT, f"acc:{world.incident_id}"))
    assert last_text(fake_api, "answerCallbackQuery") == "Инцидент уже закрыт"


def test_an_unlinked_chat_pressing_a_button_is_refused(world: World, fake_api: FakeBotApi) -> None:
    actions = Actions()
    for data in (f"acc:{world.incident_id}", f"asg:{world.incident_id}"):
        feed(world, fake_api, actions, callback_update(STRANGER, data))
        assert last_text(fake_api, "answerCallbackQuery") == staff_bot.NOT_LINKED
    assert actions.accepted == [] and fake_api.of("sendMessage") == []


def test_assign_lists_department_executors_then_assigns(world: World, fake_api: FakeBotApi) -> None:
    actions = Actions()
    iid = world.incident_id
    feed(world, fake_api, actions, callback_update(EXEC_CHAT, f"asg:{iid}"))

    listing = fake_api.of("sendMessage")[-1].params
    assert listing["chat_id"] == EXEC_CHAT and "2026-000042" in listing["text"]
    buttons = [row[0] for row in listing["reply_markup"]["inline_keyboard"]]
    assert buttons == [
        {"text": "Иванов И. И.", "callback_data": f"ex:{iid}:{world.executor_id}"},
        {"text": "Петров П. П.", "callback_data": f"ex:{iid}:{world.other_executor_id}"},
    ]

    pick = buttons[1]["callback_data"]
    feed(world, fake_api, actions, callback_update(EXEC_CHAT, pick))
    assert actions.assigned == [(world.executor_id, iid, world.other_executor_id)]
    assert last_text(fake_api, "answerCallbackQuery") == "Исполнитель назначен"
    edit = fake_api.of("editMessageReplyMarkup")[-1].params
    assert (edit["chat_id"], edit["message_id"]) == (EXEC_CHAT, 77)
    assert "reply_markup" not in edit


def test_stop_unlinks_the_chat(world: World, fake_api: FakeBotApi) -> None:
    feed(world, fake_api, Actions(), message_update(EXEC_CHAT, "/stop"))
    link = world.link(world.executor_id)
    assert link is not None and not link.active
    assert "отключены" in last_text(fake_api)
