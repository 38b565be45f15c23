"""Pure text of the daily reports: the coordinator's digest and the head's summary.

The figures are taken when the report is queued (09:00) and stored in the payload, so the
message says the same thing whenever quiet hours let it out.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from alerts.base import Button
from alerts.digest import digest_line
from alerts.format import AlertMessage, FormatContext, duration_ru, url_button_allowed

COORDINATOR_DIGEST = "coordinator_digest"
HEAD_SUMMARY = "head_summary"
# Open statuses in the order of the lifecycle, as the digest lists them.
STATUS_WORDS = {
    "new": "новые",
    "assigned": "назначены",
    "reopened": "возобновлены",
    "in_progress": "в работе",
    "answered": "дан ответ",
    "paused": "ждут заявителя",
}


def _link(ctx: FormatContext, path: str, caption: str) -> tuple[str, Button | None]:
    """A text link to a page of МЦУ and, when Telegram accepts it, a button."""
    url = f"{ctx.base_url.rstrip('/')}{path}"
    text = f'<a href="{html.escape(url, quote=True)}">{caption}</a>'
    return text, Button(caption, url=url) if url_button_allowed(url) else None


def _message(lines: list[str], ctx: FormatContext, path: str, caption: str) -> AlertMessage:
    text, button = _link(ctx, path, caption)
    return AlertMessage("\n".join([*lines, text]), ((button,),) if button else ())


def status_line(counts: Mapping[str, int]) -> str:
    """«Открыто: 12 (новые — 3, в работе — 2)»; statuses with zero are left out."""
    parts = [f"{word} — {counts[code]}" for code, word in STATUS_WORDS.items() if counts.get(code)]
    total = sum(int(n) for n in counts.values())
    return f"Открыто: {total}" + (f" ({', '.join(parts)})" if parts else "")


def format_coordinator_digest(payload: Mapping[str, Any], ctx: FormatContext) -> AlertMessage:
    """Open incidents by status, new in 24 h by block, overdue now and the worst of them."""
    at = datetime.fromisoformat(str(payload["at"]))
    local = at.astimezone(ZoneInfo(ctx.tz)).strftime("%d.%m.%Y %H:%M")
    new_by_block = [(str(code), int(n)) for code, n in payload.get("new_by_block") or []]
    lines = [
        f"<b>📋 Сводка МЦУ на {local}</b>",
        status_line(payload.get("by_status") or {}),
        f"Новые за сутки: {sum(n for _, n in new_by_block)}",
    ]
    for code, count in new_by_block:
        lines.append(f"• {html.escape(ctx.block_names.get(code, code))} — {count}")
    lines.append(f"<b>Просрочено сейчас: {int(payload.get('overdue') or 0)}</b>")
    worst = payload.get("top_overdue") or []
    if worst:
        lines.append("Дольше всех просрочены:")
    for item in worst:
        late = (at - datetime.fromisoformat(str(item["due_at"]))).total_seconds()
        lines.append(f"{digest_line(item, ctx=ctx)} · просрочено на {duration_ru(late)}")
    return _message(lines, ctx, "/incidents?overdue=1", "Просроченные в МЦУ")


def format_head_summary(payload: Mapping[str, Any], ctx: FormatContext) -> AlertMessage:
    """Yesterday's intake and resolutions, overdue now, the three most troubled places."""
    day = date.fromisoformat(str(payload["day"])).strftime("%d.%m.%Y")
    lines = [
        f"<b>🗓 Итоги дня {day}</b>",
        f"Поступило инцидентов: {int(payload.get('received') or 0)}",
        f"Решено: {int(payload.get('resolved') or 0)}",
        f"Просрочено сейчас: {int(payload.get('overdue') or 0)}",
    ]
    places = payload.get("places") or []
    if places:
        lines.append("Проблемные места:")
    for rank, (name, open_count, overdue) in enumerate(places, start=1):
        lines.append(
            f"{rank}. {html.escape(str(name))} — открыто {int(open_count)}, "
            f"просрочено {int(overdue)}"
        )
    return _message(lines, ctx, "/", "Сводка в МЦУ")


DAILY_FORMATTERS: dict[str, Callable[[Mapping[str, Any], FormatContext], AlertMessage]] = {
    COORDINATOR_DIGEST: format_coordinator_digest,
    HEAD_SUMMARY: format_head_summary,
}
