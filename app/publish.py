"""Deliver published answers to the citizen's channel: Telegram chat, VK reply comment, …

A person publishes an answer in the incident page (`published_at`; a flagged «отписка» needs
an explicit confirmation there). This job then delivers it (`delivered_at`). Portal, ПОС and
Open311 citizens read the answer themselves (/track, Open311 `status_notes`), so for them
publishing is enough.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app import repository as app_repo
from app.context import AppContext
from collectors.errors import CollectorError
from collectors.vk import post_reply
from collectors.vk_client import VkClient
from collectors.vk_parse import reply_target
from core.models import Answer, Incident, Message, Source
from incidents import audit

log = logging.getLogger("mcu.publish")
PASSIVE_KINDS = frozenset({"portal", "pos", "open311", "demo"})
PUBLISH_BATCH = 50


def _vk_reply(ctx: AppContext, *, source: Source, message: Message, answer: Answer) -> str:
    token = source.secret or ctx.settings.vk_token
    if not token:
        return "vk: нет ключа доступа"
    group_id, post_id, comment_id = reply_target(message.external_id)
    client = VkClient(token=token, api_base=ctx.settings.vk_api_base)
    try:
        new_id = post_reply(
            client=client,
            group_id=abs(group_id),
            post_id=post_id,
            text=answer.text,
            reply_to_comment=comment_id,
            guid=f"mcu-{answer.id}-{message.id}",
        )
    finally:
        client.close()
    return f"vk: комментарий {new_id}"


def _channel_results(
    ctx: AppContext, session: Session, *, answer: Answer, incident: Incident
) -> list[str]:
    results: list[str] = []
    telegram_done = False
    for message, source in app_repo.incident_messages_with_sources(
        session, incident_id=incident.id
    ):
        kind = source.kind
        if (source.settings or {}).get("demo") or kind in PASSIVE_KINDS:
            results.append(f"{kind}: доступен заявителю по номеру")
        elif kind == "vk" and not message.external_id.startswith("dm-"):
            try:
                results.append(_vk_reply(ctx, source=source, message=message, answer=answer))
            except (CollectorError, ValueError) as exc:
                results.append(f"vk: ошибка — {exc}")
        elif kind == "telegram" and not telegram_done:
            from app.bot import publish_answer_telegram

            telegram_done = True
            sent = publish_answer_telegram(ctx, session, answer=answer)
            results.append(
                "telegram: отправлено" if sent else "telegram: чатов нет или бот не настроен"
            )
        elif kind == "email":
            results.append(
                "email: ответ по почте не отправляется автоматически (SMTP не подключён)"
            )
    return results


def deliver_answer(
    ctx: AppContext, session: Session, *, answer: Answer, now: datetime
) -> list[str]:
    """Send one answer to every channel of its incident and mark it delivered (audited)."""
    incident = session.get(Incident, answer.incident_id)
    if incident is None:
        return []
    results = sorted(set(_channel_results(ctx, session, answer=answer, incident=incident)))
    answer.delivered_at = now
    audit.record(
        session,
        incident=incident,
        action="answer_delivered",
        actor=None,
        at=now,
        payload={"answer_id": answer.id, "channels": results},
    )
    return results


def deliver_published(ctx: AppContext, session: Session, now: datetime) -> dict[str, Any]:
    """The scheduler's pass: deliver answers people published."""
    delivered = 0
    for answer in app_repo.undelivered_answers(session, limit=PUBLISH_BATCH):
        deliver_answer(ctx, session, answer=answer, now=now)
        delivered += 1
    return {"delivered": delivered}
