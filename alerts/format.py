"""Pure message formatting: compact Russian text (HTML parse mode) and buttons per alert kind.

Everything a citizen or an administrator typed (title, settlement, block name, number) is
escaped with html.escape, so a title like "<b>" or "&" can neither break the markup nor
inject a link.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from alerts.base import Button

TITLE_LIMIT = 200
PARSE_MODE = "HTML"
# Telegram refuses inline URL buttons that point at a loopback host (a dev base_url).
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
_HEADLINES = {
    "new_incident": "🆕 Новый инцидент",
    "urgent": "🚨 Срочный инцидент",
    "assigned": "📌 Назначен инцидент",
    "reopened": "🔁 Инцидент возобновлён",
    "overdue": "⚠️ Срок истёк",
    "coordinator": "🔺 Эскалация: срок давно истёк",
    "escalation": "🔺 Эскалация: срок давно истёк",
}


@dataclass(frozen=True, slots=True)
class FormatContext:
    """What formatting needs besides the alert: links, local time zone, block names."""

    base_url: str
    tz: str = "UTC"
    block_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """Text in HTML parse mode and rows of inline buttons."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()


def accept_data(incident_id: int) -> str:
    """Callback data of «Принять»."""
    return f"acc:{incident_id}"


def assign_data(incident_id: int) -> str:
    """Callback data of «Назначить исполнителя»."""
    return f"asg:{incident_id}"


def executor_data(incident_id: int, user_id: int) -> str:
    """Callback data of one executor in the «Назначить исполнителя» list."""
    return f"ex:{incident_id}:{user_id}"


def incident_url(base_url: str, incident_id: int) -> str:
    """The incident card in the web UI."""
    return f"{base_url.rstrip('/')}/incidents/{incident_id}"


def url_button_allowed(url: str) -> bool:
    """True when Telegram will accept `url` in an inline button."""
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and (parts.hostname or "") not in _LOCAL_HOSTS


def headline(kind: str, payload: Mapping[str, Any]) -> str:
    """The first line's wording for an alert kind (reminders name their share of time)."""
    step = str(payload.get("step") or kind)
    if step.startswith("remind_") and step[7:].isdigit():
        return f"⏰ Прошло {step[7:]}% срока"
    if kind == "reminder":
        return "⏰ Напоминание о сроке"
    return _HEADLINES.get(step, _HEADLINES.get(kind, "🔔 Уведомление"))


def duration_ru(seconds: float) -> str:
    """A short Russian duration: «менее минуты», «25 мин», «3 ч 20 мин», «2 дн 4 ч»."""
    minutes = int(abs(seconds) // 60)
    if minutes < 1:
        return "менее минуты"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} дн {hours} ч" if hours else f"{days} дн"
    if hours:
        return f"{hours} ч {mins} мин" if mins else f"{hours} ч"
    return f"{mins} мин"


def deadline_line(due_at: str | None, *, now: datetime, tz: str) -> str:
    """«Срок: 12.03 18:00, осталось 3 ч» in local time, or that there is no deadline."""
    if not due_at:
        return "Срок: не установлен"
    due = datetime.fromisoformat(due_at)
    local = due.astimezone(ZoneInfo(tz)).strftime("%d.%m %H:%M")
    left = (due - now).total_seconds()
    if left > 0:
        return f"Срок: {local}, осталось {duration_ru(left)}"
    return f"Срок: {local}, <b>просрочено на {duration_ru(left)}</b>"


def _shorten(text: str, limit: int = TITLE_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def alert_buttons(incident_id: int, url: str) -> tuple[tuple[Button, ...], ...]:
    """«Принять» and «Назначить исполнителя» in one row, «Открыть» below when linkable."""
    rows: list[tuple[Button, ...]] = [
        (
            Button("Принять", data=accept_data(incident_id)),
            Button("Назначить исполнителя", data=assign_data(incident_id)),
        )
    ]
    if url_button_allowed(url):
        rows.append((Button("Открыть", url=url),))
    return tuple(rows)


def format_weekly_rating(payload: Mapping[str, Any], ctx: FormatContext) -> AlertMessage:
    """The head's Monday message: the week, the top of the ranking and a link to the report."""
    esc = html.escape
    week = str(payload.get("week") or "")
    lines = [f"<b>📊 Рейтинг отделов за неделю {esc(week)}</b>"]
    if payload.get("period"):
        lines.append(esc(str(payload["period"])))
    for row in payload.get("top") or []:
        lines.append(
            f"{int(row['rank'])}. {esc(str(row['department']))} — {float(row['index']):.1f}"
        )
    unranked = int(payload.get("unranked") or 0)
    if unranked:
        lines.append(f"Недостаточно данных: {unranked}")
    base = ctx.base_url.rstrip("/")
    url = f"{base}/rating?week={week}"
    xlsx, pdf = (esc(f"{base}/rating/{week}.{ext}", quote=True) for ext in ("xlsx", "pdf"))
    lines.append(
        f'<a href="{esc(url, quote=True)}">Рейтинг в МЦУ</a> · '
        f'<a href="{xlsx}">XLSX</a> · <a href="{pdf}">PDF</a>'
    )
    buttons = ((Button("Открыть рейтинг", url=url),),) if url_button_allowed(url) else ()
    return AlertMessage("\n".join(lines), buttons)


def format_alert(
    *, kind: str, payload: Mapping[str, Any], urgent: bool, now: datetime, ctx: FormatContext
) -> AlertMessage:
    """The message for one outbox row: headline, block, place, what, deadline, link."""
    if kind == "weekly_rating":
        return format_weekly_rating(payload, ctx)
    esc = html.escape
    incident_id = payload.get("incident_id")
    number = payload.get("number") or (f"#{incident_id}" if incident_id else "")
    block = str(payload.get("block") or "")
    title = headline(kind, payload) + (f" №{esc(str(number))}" if number else "")
    if urgent and kind != "urgent":
        title = "🔴 СРОЧНО · " + title
    lines = [
        f"<b>{title}</b>",
        f"Блок: {esc(ctx.block_names.get(block, block) or 'не указан')}",
        f"Место: {esc(str(payload.get('settlement') or 'не указано'))}",
        f"Суть: {esc(_shorten(str(payload.get('title') or '—')))}",
        deadline_line(payload.get("due_at"), now=now, tz=ctx.tz),
    ]
    if not isinstance(incident_id, int):
        return AlertMessage("\n".join(lines))
    url = incident_url(ctx.base_url, incident_id)
    lines.append(f'<a href="{esc(url, quote=True)}">Открыть в МЦУ</a>')
    return AlertMessage("\n".join(lines), alert_buttons(incident_id, url))


def format_test_message(*, full_name: str, now: datetime, tz: str) -> str:
    """The `mcu telegram send-test` message."""
    local = now.astimezone(ZoneInfo(tz)).strftime("%d.%m.%Y %H:%M")
    return (
        "<b>✅ Проверка связи МЦУ</b>\n"
        f"Уведомления для {html.escape(full_name)} будут приходить в этот чат.\n"
        f"Отправлено {local}."
    )
