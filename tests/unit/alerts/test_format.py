"""Message text and buttons for each alert kind (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alerts.base import Button
from alerts.bot import AcceptCb, AssignCb, ExecutorCb
from alerts.format import (
    FormatContext,
    accept_data,
    assign_data,
    duration_ru,
    executor_data,
    format_alert,
    format_test_message,
    headline,
    url_button_allowed,
)

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 12:00 in Vladivostok
CTX = FormatContext("https://mcu.example.ru/", "Asia/Vladivostok", {"housing": "ЖКХ"})
PAYLOAD = {
    "incident_id": 42,
    "number": "2026-000042",
    "block": "housing",
    "title": "Нет воды",
    "settlement": "с. Амурзет",
    "due_at": (NOW + timedelta(hours=3, minutes=20)).isoformat(),
}


def test_new_incident_message_is_compact_and_complete() -> None:
    message = format_alert(kind="new_incident", payload=PAYLOAD, urgent=False, now=NOW, ctx=CTX)
    assert message.text == (
        "<b>🆕 Новый инцидент №2026-000042</b>\n"
        "Блок: ЖКХ\n"
        "Место: с. Амурзет\n"
        "Суть: Нет воды\n"
        "Срок: 10.03 15:20, осталось 3 ч 20 мин\n"
        '<a href="https://mcu.example.ru/incidents/42">Открыть в МЦУ</a>'
    )
    assert message.buttons == (
        (Button("Принять", data="acc:42"), Button("Назначить исполнителя", data="asg:42")),
        (Button("Открыть", url="https://mcu.example.ru/incidents/42"),),
    )


def test_citizen_text_is_escaped() -> None:
    evil = PAYLOAD | {
        "title": '<a href="x">клик</a> & <b>',
        "settlement": "<i>село</i>",
        "number": "<1>",
    }
    text = format_alert(kind="assigned", payload=evil, urgent=False, now=NOW, ctx=CTX).text
    assert "&lt;a href=&quot;x&quot;&gt;клик&lt;/a&gt; &amp; &lt;b&gt;" in text
    assert "&lt;i&gt;село&lt;/i&gt;" in text and "№&lt;1&gt;" in text
    assert text.count("<a ") == 1 and text.count("<b>") == 1


@pytest.mark.parametrize(
    ("kind", "payload", "expected"),
    [
        ("remind_50", {}, "⏰ Прошло 50% срока"),
        ("reminder", {"step": "remind_80"}, "⏰ Прошло 80% срока"),
        ("overdue", {"step": "overdue"}, "⚠️ Срок истёк"),
        ("coordinator", {}, "🔺 Эскалация: срок давно истёк"),
        ("escalation", {"step": "coordinator"}, "🔺 Эскалация: срок давно истёк"),
        ("reopened", {}, "🔁 Инцидент возобновлён"),
        ("urgent", {}, "🚨 Срочный инцидент"),
        ("something_new", {}, "🔔 Уведомление"),
    ],
)
def test_headline_per_kind(kind: str, payload: dict[str, str], expected: str) -> None:
    assert headline(kind, payload) == expected


def test_overdue_and_urgent_marks() -> None:
    late = PAYLOAD | {"due_at": (NOW - timedelta(days=2, hours=5)).isoformat()}
    text = format_alert(kind="overdue", payload=late, urgent=True, now=NOW, ctx=CTX).text
    assert text.startswith("<b>🔴 СРОЧНО · ⚠️ Срок истёк №2026-000042</b>")
    assert "<b>просрочено на 2 дн 5 ч</b>" in text


def test_missing_fields_and_long_titles() -> None:
    bare = {"incident_id": 7, "title": "слово " * 100, "block": "unknown_block"}
    text = format_alert(kind="new_incident", payload=bare, urgent=False, now=NOW, ctx=CTX).text
    assert "№#7" in text and "Блок: unknown_block" in text and "Место: не указано" in text
    assert "Срок: не установлен" in text
    title_line = next(line for line in text.splitlines() if line.startswith("Суть: "))
    assert len(title_line) <= len("Суть: ") + 200 and title_line.endswith("…")
    no_incident = format_alert(kind="x", payload={}, urgent=False, now=NOW, ctx=CTX)
    assert no_incident.buttons == () and "href" not in no_incident.text


def test_local_base_url_gets_no_url_button() -> None:
    local = FormatContext("http://127.0.0.1:8000", "UTC")
    message = format_alert(kind="new_incident", payload=PAYLOAD, urgent=False, now=NOW, ctx=local)
    assert [b.text for row in message.buttons for b in row] == ["Принять", "Назначить исполнителя"]
    assert 'href="http://127.0.0.1:8000/incidents/42"' in message.text
    assert url_button_allowed("https://mcu.example.ru/x") and not url_button_allowed("ftp://a/b")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(30, "менее минуты"), (25 * 60, "25 мин"), (3 * 3600, "3 ч"), (3 * 86400, "3 дн")],
)
def test_durations(seconds: float, text: str) -> None:
    assert duration_ru(seconds) == text
    assert duration_ru(-seconds) == text


def test_callback_data_matches_the_bot_filters() -> None:
    assert accept_data(5) == AcceptCb(incident_id=5).pack()
    assert assign_data(5) == AssignCb(incident_id=5).pack()
    assert executor_data(5, 9) == ExecutorCb(incident_id=5, user_id=9).pack()


def test_test_message_escapes_the_name() -> None:
    text = format_test_message(full_name="<Иван>", now=NOW, tz="Asia/Vladivostok")
    assert "&lt;Иван&gt;" in text and "10.03.2026 12:00" in text
