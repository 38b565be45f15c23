"""The sector head's digest of new incidents: which rows wait for it and its text (pure).

A non-urgent `new_incident` row is not sent alone. It waits until the oldest waiting row of
the same user is `interval` old; then all of that user's waiting rows go out as one message
and are marked sent together. Urgent new incidents (and every other kind) go at once.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from alerts.base import Button
from alerts.format import (
    AlertMessage,
    FormatContext,
    duration_ru,
    incident_url,
    url_button_allowed,
)

DIGEST_KIND = "new_incident"
DEFAULT_INTERVAL_MINUTES = 60
# Telegram takes up to 4096 characters; the budget counts tags too, so it stays well clear.
TEXT_BUDGET = 3600
LINE_TITLE_LIMIT = 60


@dataclass(frozen=True, slots=True)
class DigestOptions:
    """How long new incidents wait to be sent together (one digest per interval)."""

    interval_minutes: int = DEFAULT_INTERVAL_MINUTES

    @property
    def window(self) -> timedelta:
        """The interval as a timedelta (at least one minute)."""
        return timedelta(minutes=max(1, self.interval_minutes))


def period_ru(window: timedelta) -> str:
    """«за час», «за 30 мин», «за 2 ч»."""
    if window == timedelta(hours=1):
        return "за час"
    return f"за {duration_ru(window.total_seconds())}"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= LINE_TITLE_LIMIT else text[: LINE_TITLE_LIMIT - 1] + "…"


def digest_line(payload: Mapping[str, Any], *, ctx: FormatContext) -> str:
    """«• №N · блок · место — суть · срок 10.03 15:20», the number linking to the card."""
    esc = html.escape
    incident_id = payload.get("incident_id")
    number = esc(f"№{payload.get('number') or incident_id or '—'}")
    if isinstance(incident_id, int):
        url = esc(incident_url(ctx.base_url, incident_id), quote=True)
        number = f'<a href="{url}">{number}</a>'
    block = str(payload.get("block") or "")
    parts = [
        number,
        esc(ctx.block_names.get(block, block) or "блок не указан"),
        esc(str(payload.get("settlement") or "место не указано")),
    ]
    line = "• " + " · ".join(parts) + " — " + esc(_short(str(payload.get("title") or "—")))
    due = payload.get("due_at")
    if due:
        local = datetime.fromisoformat(str(due)).astimezone(ZoneInfo(ctx.tz))
        line += f" · срок {local.strftime('%d.%m %H:%M')}"
    return line


def format_new_digest(
    payloads: Sequence[Mapping[str, Any]], *, window: timedelta, ctx: FormatContext
) -> AlertMessage:
    """One message for several new incidents: a count, a line each, a link to the list."""
    url = f"{ctx.base_url.rstrip('/')}/incidents"
    lines = [f"<b>🆕 Новые инциденты {period_ru(window)}: {len(payloads)}</b>"]
    footer = f'<a href="{html.escape(url, quote=True)}">Все инциденты в МЦУ</a>'
    used = len(lines[0]) + len(footer) + 40  # room for the «… и ещё N» line
    for shown, payload in enumerate(payloads):
        line = digest_line(payload, ctx=ctx)
        if used + len(line) + 1 > TEXT_BUDGET:
            lines.append(f"… и ещё {len(payloads) - shown}")
            break
        lines.append(line)
        used += len(line) + 1
    lines.append(footer)
    buttons = ((Button("Открыть список", url=url),),) if url_button_allowed(url) else ()
    return AlertMessage("\n".join(lines), buttons)
