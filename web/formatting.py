"""Jinja filters and labels: local time, time left, Russian names of statuses and events."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment
from markupsafe import Markup, escape

from incidents.lifecycle import STATUS_LABELS as DOMAIN_STATUS_LABELS
from web.auth import ROLE_LABELS, can

STATUS_LABELS: dict[str, str] = dict(DOMAIN_STATUS_LABELS)

SOURCE_KINDS: dict[str, tuple[str, str]] = {
    "vk": ("ВК", "ВКонтакте"),
    "telegram": ("ТГ", "Telegram"),
    "email": ("@", "Электронная почта"),
    "portal": ("САЙТ", "Сайт и формы"),
    "pos": ("ПОС", "Платформа обратной связи"),
    "open311": ("311", "Open311"),
    "demo": ("ДЕМО", "Демо-поток"),
}

EVENT_LABELS = {
    "created": "Инцидент создан",
    "assigned": "Назначен исполнитель",
    "reassigned": "Переназначен",
    "taken_in_work": "Взят в работу",
    "answered": "Дан ответ",
    "answer_added": "Добавлен ответ",
    "paused": "Ожидание заявителя",
    "resumed": "Работа возобновлена",
    "resolved": "Решён",
    "rejected": "Отклонён: не по компетенции",
    "closed": "Закрыт",
    "reopened": "Возобновлён",
    "feedback": "Оценка заявителя",
    "deadline_extended": "Срок продлён",
    "merged_into": "Объединён с другим инцидентом",
    "merged_from": "Присоединён дубликат",
    "merged_message": "Добавлено сообщение-дубликат",
    "split_out": "Сообщение выделено в новый инцидент",
    "split_from": "Создан выделением сообщения",
    "urgent_raised": "Отмечен как срочный",
    "escalated": "Эскалация",
    "block_changed": "Изменён блок",
    "answer_delivered": "Ответ отправлен заявителю",
    "feedback_comment": "Комментарий заявителя",
}

VERDICT_LABELS = {"yes": "Решено", "partial": "Решено частично", "no": "Не решено"}
ANSWER_KINDS = {"interim": "Промежуточный", "final": "Окончательный"}

# Button captions of the status changes offered on the incident page.
ACTION_LABELS = {
    "in_progress": "Взять в работу",
    "paused": "Ждать ответа заявителя",
    "resolved": "Решён",
    "rejected": "Не по компетенции",
    "closed": "Закрыть",
    "reopened": "Возобновить",
}


def local_time(value: datetime | None, tz: str) -> str:
    """`дд.мм.гггг чч:мм` in the municipality's zone."""
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(tz)).strftime("%d.%m.%Y %H:%M")


def _duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = ([f"{days} д"] if days else []) + ([f"{hours} ч"] if hours else [])
    if not days:
        parts.append(f"{minutes} мин")
    return " ".join(parts)


def time_left(due: datetime | None, now: datetime | None = None) -> str:
    """«осталось 3 ч 20 мин» or «просрочено на 1 д 2 ч» (calendar time, for lists)."""
    if due is None:
        return "—"
    delta = due - (now or datetime.now(UTC))
    text = _duration(abs(int(delta.total_seconds())))
    return f"осталось {text}" if delta.total_seconds() >= 0 else f"просрочено на {text}"


def working_left(left: timedelta) -> str:
    """Working time left of an SLA clock: «3 ч 20 мин раб. времени» or «просрочено на …»."""
    seconds = int(left.total_seconds())
    hours, rest = divmod(abs(seconds), 3600)
    text = (f"{hours} ч " if hours else "") + f"{rest // 60} мин"
    return f"{text} раб. времени" if seconds >= 0 else f"просрочено на {text} раб. времени"


def number(value: Any) -> str:
    """12 345 with a narrow no-break space."""
    return f"{int(value):,}".replace(",", "\u202f") if value is not None else "—"


def percent(value: float | None) -> str:
    """0.873 → «87 %»."""
    return "—" if value is None else f"{round(100 * value)}\u00a0%"


LOGIN_OUTCOME_LABELS = {
    "ok": "вход выполнен",
    "bad_password": "неверный логин или пароль",
    "locked": "заблокирован: много попыток",
    "csrf": "устаревшая форма",
}


class OptionList:
    """The <option> tags of a <select> repeated on every row: escaped once per page."""

    def __init__(self, items: Iterable[tuple[object, str, str]]) -> None:
        """`items`: (value, label, extra attributes as safe HTML, e.g. ` data-dept="3"`)."""
        self._plain: list[str] = []
        self._selected: list[str] = []
        self._index: dict[str, int] = {}
        for value, label, attrs in items:
            head, text = f'<option value="{escape(str(value))}"{attrs}', escape(label)
            self._index.setdefault(str(value), len(self._plain))
            self._plain.append(f"{head}>{text}</option>")
            self._selected.append(f"{head} selected>{text}</option>")
        self._none = Markup("".join(self._plain))

    def html(self, selected: object = None) -> Markup:
        """All options, the one whose value equals `selected` (as text) marked selected."""
        i = self._index.get(str(selected)) if selected is not None else None
        if i is None:
            return self._none
        return Markup("".join([*self._plain[:i], self._selected[i], *self._plain[i + 1 :]]))


def register_filters(env: Environment, *, tz: str) -> None:
    """Install filters and globals on a Jinja environment."""
    env.filters["local"] = lambda value: local_time(value, tz)
    env.filters["left"] = time_left
    env.filters["working_left"] = working_left
    env.filters["status"] = lambda code: STATUS_LABELS.get(code, code)
    env.filters["event"] = lambda code: EVENT_LABELS.get(code, code)
    env.filters["verdict"] = lambda code: VERDICT_LABELS.get(code, code)
    env.filters["answer_kind"] = lambda code: ANSWER_KINDS.get(code, code)
    env.filters["role"] = lambda code: ROLE_LABELS.get(code, code)
    env.filters["kind_icon"] = lambda code: SOURCE_KINDS.get(code, (code, code))[0]
    env.filters["kind_label"] = lambda code: SOURCE_KINDS.get(code, (code, code))[1]
    env.filters["login_outcome"] = lambda code: LOGIN_OUTCOME_LABELS.get(code, code)
    env.filters["num"] = number
    env.filters["pct"] = percent
    env.globals["can"] = can
    env.globals["STATUS_LABELS"] = STATUS_LABELS
    env.globals["SOURCE_KINDS"] = SOURCE_KINDS
    env.globals["ACTION_LABELS"] = ACTION_LABELS
    env.globals["block_names_of"] = lambda choices: {c.value: c.label for c in choices}
