"""The digest of new incidents and the daily reports: pure text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.base import Button
from alerts.digest import TEXT_BUDGET, DigestOptions, format_new_digest, period_ru
from alerts.format import FormatContext
from alerts.format_daily import (
    DAILY_FORMATTERS,
    format_coordinator_digest,
    format_head_summary,
    status_line,
)

NOW = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 12:00 in Vladivostok
CTX = FormatContext("https://mcu.example.ru/", "Asia/Vladivostok", {"housing": "ЖКХ"})


def payload(n: int, **extra: object) -> dict[str, object]:
    """A new_incident payload as incidents.audit writes it."""
    return {
        "incident_id": n,
        "number": f"2026-{n:06d}",
        "block": "housing",
        "title": f"Нет воды в доме {n}",
        "settlement": "с. Амурзет",
        "due_at": (NOW + timedelta(hours=n)).isoformat(),
    } | extra


def test_three_new_incidents_make_one_message_with_a_line_each() -> None:
    message = format_new_digest(
        [payload(1), payload(2), payload(3)], window=timedelta(hours=1), ctx=CTX
    )
    lines = message.text.split("\n")
    assert lines[0] == "<b>🆕 Новые инциденты за час: 3</b>"
    assert lines[1] == (
        '• <a href="https://mcu.example.ru/incidents/1">№2026-000001</a> · ЖКХ · с. Амурзет'
        " — Нет воды в доме 1 · срок 10.03 13:00"
    )
    assert [line.split("</a>")[0][-11:] for line in lines[1:4]] == [
        "2026-000001",
        "2026-000002",
        "2026-000003",
    ]
    assert lines[4] == '<a href="https://mcu.example.ru/incidents">Все инциденты в МЦУ</a>'
    assert message.buttons == ((Button("Открыть список", url="https://mcu.example.ru/incidents"),),)


def test_digest_escapes_citizen_text_and_shortens_titles() -> None:
    evil = payload(7, title="<b>" + "х" * 100, settlement='"&"', block="unknown")
    line = format_new_digest([evil], window=timedelta(minutes=30), ctx=CTX).text.split("\n")[1]
    assert "&lt;b&gt;" in line and "<b>" not in line
    assert "&quot;&amp;&quot;" in line and " · unknown · " in line
    assert "х" * 56 + "…" in line and "х" * 57 not in line


def test_a_huge_digest_stays_under_telegrams_limit_and_says_how_many_are_left() -> None:
    message = format_new_digest(
        [payload(n) for n in range(1, 201)], window=timedelta(hours=1), ctx=CTX
    )
    assert len(message.text) <= TEXT_BUDGET < 4096
    assert message.text.startswith("<b>🆕 Новые инциденты за час: 200</b>")
    shown = message.text.count("• ")
    assert 10 < shown < 200
    assert f"… и ещё {200 - shown}" in message.text


def test_interval_wording_and_window() -> None:
    assert period_ru(timedelta(hours=1)) == "за час"
    assert period_ru(timedelta(minutes=30)) == "за 30 мин"
    assert period_ru(timedelta(hours=2)) == "за 2 ч"
    assert DigestOptions().window == timedelta(minutes=60)
    assert DigestOptions(interval_minutes=0).window == timedelta(minutes=1)


def test_local_links_give_no_button() -> None:
    local = FormatContext("http://127.0.0.1:8000", "UTC")
    assert format_new_digest([payload(1)], window=timedelta(hours=1), ctx=local).buttons == ()


def test_coordinator_digest_text() -> None:
    late = payload(5, due_at=(NOW - timedelta(days=2, hours=3)).isoformat())
    data = {
        "at": NOW.isoformat(),
        "by_status": {"new": 3, "in_progress": 2, "paused": 0},
        "new_by_block": [["housing", 4], ["roads", 1]],
        "overdue": 1,
        "top_overdue": [late],
    }
    text = DAILY_FORMATTERS["coordinator_digest"](data, CTX).text.split("\n")
    assert text[:6] == [
        "<b>📋 Сводка МЦУ на 10.03.2026 12:00</b>",
        "Открыто: 5 (новые — 3, в работе — 2)",
        "Новые за сутки: 5",
        "• ЖКХ — 4",
        "• roads — 1",
        "<b>Просрочено сейчас: 1</b>",
    ]
    assert text[6] == "Дольше всех просрочены:"
    assert text[7].startswith('• <a href="https://mcu.example.ru/incidents/5">№2026-000005</a>')
    assert text[7].endswith("· срок 08.03 09:00 · просрочено на 2 дн 3 ч")
    assert "/incidents?overdue=1" in text[8]


def test_coordinator_digest_of_a_quiet_day() -> None:
    data = {"at": NOW.isoformat(), "by_status": {}, "new_by_block": [], "overdue": 0}
    text = format_coordinator_digest(data, CTX).text
    assert "Открыто: 0\nНовые за сутки: 0\n<b>Просрочено сейчас: 0</b>" in text
    assert "Дольше всех" not in text


def test_head_summary_text() -> None:
    data = {
        "day": "2026-03-09",
        "received": 14,
        "resolved": 9,
        "overdue": 3,
        "places": [["с. Амурзет", 5, 2], ["<Ленинское>", 3, 1]],
    }
    message = format_head_summary(data, CTX)
    assert message.text.split("\n") == [
        "<b>🗓 Итоги дня 09.03.2026</b>",
        "Поступило инцидентов: 14",
        "Решено: 9",
        "Просрочено сейчас: 3",
        "Проблемные места:",
        "1. с. Амурзет — открыто 5, просрочено 2",
        "2. &lt;Ленинское&gt; — открыто 3, просрочено 1",
        '<a href="https://mcu.example.ru/">Сводка в МЦУ</a>',
    ]
    assert message.buttons == ((Button("Сводка в МЦУ", url="https://mcu.example.ru/"),),)


def test_status_line_orders_statuses_by_lifecycle() -> None:
    assert status_line({"paused": 1, "new": 2}) == "Открыто: 3 (новые — 2, ждут заявителя — 1)"
