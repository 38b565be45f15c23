"""Jinja filters: local time, time left and Russian labels."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment

STATUS_LABELS = {
    "new": "Новый",
    "assigned": "Назначен",
    "in_progress": "В работе",
    "answered": "Дан ответ",
    "paused": "Ожидает заявителя",
    "resolved": "Решён",
    "rejected": "Не по компетенции",
    "closed": "Закрыт",
    "reopened": "Возобновлён",
}


def local_time(value: datetime | None, tz: str) -> str:
    """`дд.мм.гггг чч:мм` in the municipality's zone."""
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(tz)).strftime("%d.%m.%Y %H:%M")


def time_left(due: datetime | None, now: datetime | None = None) -> str:
    """«осталось 3 ч 20 мин» or «просрочено на 1 д 2 ч» (calendar time, for lists)."""
    if due is None:
        return "—"
    delta = due - (now or datetime.now(UTC))
    seconds = abs(int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = ([f"{days} д"] if days else []) + ([f"{hours} ч"] if hours else [])
    if not days:
        parts.append(f"{minutes} мин")
    text = " ".join(parts)
    return f"осталось {text}" if delta.total_seconds() >= 0 else f"просрочено на {text}"


def register_filters(env: Environment, *, tz: str) -> None:
    """Install the filters on a Jinja environment."""
    env.filters["local"] = lambda value: local_time(value, tz)
    env.filters["left"] = time_left
    env.filters["status"] = lambda code: STATUS_LABELS.get(code, code)
