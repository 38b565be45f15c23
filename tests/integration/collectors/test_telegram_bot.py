"""The citizen bot end to end: real aiogram dispatcher, fake Bot API, real database."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiogram.types import Update
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.linking import create_link_code
from alerts.telegram import make_bot
from app.bot import (
    SOURCE_NAME,
    build_bot_dispatcher,
    publish_answer_telegram,
    store_citizen_message,
)
from app.context import AppContext, load_calendar
from collectors.base import pseudonymize
from collectors.portal import parse_tracking_number, tracking_number
from config.reference import ReferenceConfig
from config.settings import CONFIG_DIR, Settings
from core.models import Answer, CitizenFeedback, Department, Incident, Message, Source, User
from core.types import RawMessage
from incidents import service


def _load(name: str) -> Any:
    # --import-mode=importlib puts no test folder on sys.path: load the sibling by its path.
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])
    return sys.modules[name]


tg = _load("tg_updates")
SECRET = "test-secret"
NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
CITIZEN, STRANGER = 555, 777
Step = dict[str, Any] | Callable[[Any], dict[str, Any]]


@pytest.fixture
def api() -> Iterator[Any]:
    """A running fake Bot API that remembers the messages it answered with."""
    with tg.RecordingApi() as server:
        yield server


@pytest.fixture
def ctx(seeded_session: Session, reference_config: ReferenceConfig, api: Any) -> AppContext:
    """The composition root on the test database, its bot pointed at the fake API."""
    settings = Settings(secret_key=SECRET, telegram_token=api.token, telegram_api_base=api.base_url)
    tz = reference_config.municipality.municipality.timezone
    return AppContext(
        settings=settings,
        config=reference_config,
        engine=seeded_session.get_bind(),  # type: ignore[arg-type]
        calendar=load_calendar(reference_config, tz=tz, config_dir=str(CONFIG_DIR)),
        tz=tz,
    )


def converse(ctx: AppContext, api: Any, *steps: Step) -> None:
    """Feed updates through one dispatcher (one FSM memory); a callable step sees the API."""

    async def go() -> None:
        bot = make_bot(api.token, api.base_url)
        dispatcher = build_bot_dispatcher(ctx)
        try:
            for step in steps:
                raw = step(api) if callable(step) else step
                await dispatcher.feed_update(bot, Update.model_validate(raw, context={"bot": bot}))
        finally:
            await bot.session.close()

    asyncio.run(go())


def press_send(chat_id: int) -> Step:
    """«Отправить» under the latest summary the bot sent."""
    return lambda api: tg.callback(chat_id, "cit:send", api.last_id("Ваше обращение"))


def stored(session: Session) -> list[Message]:
    """Messages of the bot's source, as committed now."""
    session.expire_all()
    stmt = select(Message).join(Source).where(Source.name == SOURCE_NAME).order_by(Message.id)
    return list(session.scalars(stmt))


def quick_report(chat_id: int, text: str) -> list[Step]:
    """/start, a text, and «Пропустить» on every optional step."""
    skips = [tg.text(chat_id, "Пропустить") for _ in range(3)]
    return [tg.text(chat_id, "/start"), tg.text(chat_id, text), *skips]


def test_a_full_conversation_stores_one_message(
    ctx: AppContext, api: Any, seeded_session: Session
) -> None:
    converse(
        ctx,
        api,
        tg.text(CITIZEN, "/start"),
        tg.text(CITIZEN, "Во дворе дома 5 по ул. Мира прорвало трубу"),
        tg.location(CITIZEN, 48.19, 131.77),
        tg.photo(CITIZEN),
        tg.text(CITIZEN, "с. Амурзет, ул. Мира, 5"),
        press_send(CITIZEN),
    )

    [message] = stored(seeded_session)
    summary_id = api.last_id("Ваше обращение")
    assert message.external_id == f"{CITIZEN}:{summary_id}"
    assert message.text == "Во дворе дома 5 по ул. Мира прорвало трубу"
    assert (message.lat, message.lon) == (48.19, 131.77)
    assert message.attachments == ["tg-file:ph-big"]
    assert message.place_text == "с. Амурзет, ул. Мира, 5"
    assert message.contact == f"tg:{CITIZEN}"
    assert message.author_id == pseudonymize(kind="telegram", account_id="555", secret=SECRET)
    texts = api.texts(CITIZEN)
    assert "Опишите проблему" in texts[0]
    assert tracking_number(message.id) in texts[-1] and "/status" in texts[-1]
    source = seeded_session.scalar(select(Source).where(Source.name == SOURCE_NAME))
    assert source is not None and source.kind == "telegram" and source.stored_count == 1


def test_pressing_send_again_does_not_store_twice(
    ctx: AppContext, api: Any, seeded_session: Session
) -> None:
    twice = [press_send(CITIZEN), press_send(CITIZEN)]
    converse(ctx, api, *quick_report(CITIZEN, "Не горит фонарь"), *twice)
    converse(ctx, api, press_send(CITIZEN))  # after a restart the FSM memory is gone

    [message] = stored(seeded_session)
    number = tracking_number(message.id)
    accepted, again = api.texts(CITIZEN)[-2:]
    assert number in accepted and "уже отправлено" in again and number in again
    assert api.answers()[-1]["text"] == "Кнопка устарела."  # the old button is stale now


def test_storing_the_same_raw_message_twice_returns_the_same_number(
    ctx: AppContext, seeded_session: Session
) -> None:
    raw = RawMessage(
        source=SOURCE_NAME, external_id="555:9", text="Яма", created_at=NOW, contact="tg:555"
    )
    assert store_citizen_message(ctx, raw) == store_citizen_message(ctx, raw)
    assert len(stored(seeded_session)) == 1


def test_edit_starts_the_description_again(
    ctx: AppContext, api: Any, seeded_session: Session
) -> None:
    edit: Step = lambda api: tg.callback(CITIZEN, "cit:edit", api.last_id("Ваше обращение"))  # noqa: E731
    skips = [tg.text(CITIZEN, "Пропустить") for _ in range(3)]
    converse(
        ctx,
        api,
        *quick_report(CITIZEN, "Черновик"),
        edit,
        tg.text(CITIZEN, "Окончательный текст"),
        *skips,
        press_send(CITIZEN),
    )
    assert [m.text for m in stored(seeded_session)] == ["Окончательный текст"]


def test_status_answers_only_about_the_chats_own_messages(
    ctx: AppContext, api: Any, seeded_session: Session
) -> None:
    raw = RawMessage(
        source=SOURCE_NAME,
        external_id="555:1",
        text="Секретные подробности",
        created_at=NOW,
        contact=f"tg:{CITIZEN}",
    )
    number = store_citizen_message(ctx, raw)

    converse(
        ctx, api, tg.text(STRANGER, f"/status {number}"), tg.text(CITIZEN, f"/status {number}")
    )

    stranger, citizen = api.texts(STRANGER), api.texts(CITIZEN)
    assert len(stranger) == 1 and "не найдено" in stranger[0]
    assert "Секретные" not in stranger[0] and number not in stranger[0]
    assert number in citizen[0] and "ожидает регистрации" in citizen[0]


def test_group_messages_and_channel_posts_are_stored_without_a_reply(
    ctx: AppContext, api: Any, seeded_session: Session
) -> None:
    group = {"id": -100500, "type": "supergroup", "title": "Амурзет", "username": "amurzet"}
    channel = {"id": -100900, "type": "channel", "title": "Новости района"}
    post = tg.group_message(group, "У школы третий день не вывозят мусор")

    converse(ctx, api, post, tg.channel_post(channel, "Перекрыта дорога на Пашково"), post)

    messages = stored(seeded_session)
    post_id = post["message"]["message_id"]
    assert messages[0].external_id == f"tgchat--100500_{post_id}"
    assert messages[0].url == f"https://t.me/amurzet/{post_id}"
    assert messages[1].text == "Перекрыта дорога на Пашково" and messages[1].url is None
    assert len(messages) == 2 and all(m.contact is None for m in messages)
    assert api.of("sendMessage") == []


@pytest.fixture
def answered(ctx: AppContext, seeded_session: Session) -> tuple[int, str]:
    """An incident with a published final answer, reported by CITIZEN through the bot."""
    s = seeded_session
    raw = RawMessage(
        source=SOURCE_NAME, external_id="555:2", text="Нет воды", created_at=NOW, contact="tg:555"
    )
    number = store_citizen_message(ctx, raw)
    incident = Incident(
        number="МЦУ-2026-000042",
        block_code="housing",
        title="Нет воды",
        status="in_progress",
        department_id=s.scalar(select(Department.id).where(Department.code == "gkh")),
        sla_policy="portal",
        received_at=NOW - timedelta(hours=1),
    )
    s.add(incident)
    s.flush()
    message = s.get(Message, parse_tracking_number(number))
    assert message is not None
    message.incident_id = incident.id
    answer = service.add_answer(
        s,
        incident=incident,
        author=None,
        kind="final",
        text="Вода подана",
        now=NOW,
        calendar=ctx.calendar,
    )
    answer.published_at = NOW
    s.commit()
    return incident.id, number


def test_no_on_is_it_solved_reopens_the_incident(
    ctx: AppContext, api: Any, seeded_session: Session, answered: tuple[int, str]
) -> None:
    incident_id, number = answered
    answer = seeded_session.scalar(select(Answer).where(Answer.incident_id == incident_id))
    assert answer is not None

    assert publish_answer_telegram(ctx, seeded_session, answer=answer) is True

    update, ask = api.messages[-2:]
    assert "Вода подана" in update["text"] and number in update["text"]
    assert ask["text"].endswith("Проблема решена?")
    buttons = ask["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons][2] == f"fb:{number}:no"
    converse(
        ctx,
        api,
        tg.text(CITIZEN, "/status МЦУ-2026-000042"),
        tg.text(STRANGER, "/status МЦУ-2026-000042"),
        tg.callback(STRANGER, f"fb:{number}:yes", ask["message_id"]),
        tg.callback(CITIZEN, f"fb:{number}:no", ask["message_id"]),
        tg.text(CITIZEN, "Воды по-прежнему нет"),
    )

    seeded_session.expire_all()
    incident = seeded_session.get(Incident, incident_id)
    assert incident is not None and incident.status == "reopened"
    feedback = list(seeded_session.scalars(select(CitizenFeedback)))
    assert [(f.verdict, f.comment, f.channel) for f in feedback] == [
        ("no", "Воды по-прежнему нет", "telegram")
    ]
    status = api.texts(CITIZEN)[-3]
    assert "Дан ответ" in status and "Вода подана" in status and number in status
    assert "не найдено" in api.texts(STRANGER)[0]
    stranger, citizen = api.answers()[-2:]
    assert stranger["show_alert"] == "true" and "не найдено" in stranger["text"]
    assert citizen["text"].startswith("Спасибо")
    assert "Комментарий передан" in api.texts(CITIZEN)[-1]


def test_malformed_input_gets_a_polite_refusal_and_loses_nothing(
    ctx: AppContext, api: Any, seeded_session: Session
) -> None:
    converse(
        ctx,
        api,
        tg.sticker(CITIZEN),
        tg.text(CITIZEN, "/start"),
        tg.voice(CITIZEN),
        tg.text(CITIZEN, "я" * 5000),
        tg.text(CITIZEN, "Упало дерево на провода"),
        tg.sticker(CITIZEN),
        tg.location(CITIZEN, 48.0, 131.0),
        tg.message(CITIZEN, dice={"emoji": "🎲", "value": 3}),
        tg.text(CITIZEN, "Пропустить"),
        tg.text(CITIZEN, "ул. " + "Лесная " * 100),
        tg.text(CITIZEN, "Пропустить"),
        press_send(CITIZEN),
    )

    texts = api.texts(CITIZEN)
    assert "Стикеры" in texts[0] and "Голосовые" in texts[2] and "5000" in texts[3]
    assert "геопозицию" in texts[5]
    assert "не может принять" in texts[7] and "фото" in texts[7]
    assert "Адрес слишком длинный" in texts[9]
    [message] = stored(seeded_session)
    assert message.text == "Упало дерево на провода" and message.place_text is None
    assert (message.lat, message.lon) == (48.0, 131.0)


def test_start_with_a_link_code_still_links_a_staff_chat(
    ctx: AppContext, api: Any, seeded_session: Session
) -> None:
    user = User(username="ivanov", password_hash="x", role="operator", full_name="Иванов")
    seeded_session.add(user)
    seeded_session.flush()
    code = create_link_code(seeded_session, user=user, now=datetime.now(UTC))
    seeded_session.commit()

    converse(ctx, api, tg.text(4242, f"/start {code}"), tg.text(CITIZEN, "/start"))

    assert api.texts(4242)[0].startswith("Готово")
    assert "Опишите проблему" in api.texts(CITIZEN)[0]
    count = seeded_session.scalar(select(func.count(Message.id)))
    assert count == 0
