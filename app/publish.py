"""Deliver published answers to the citizen's channel: Telegram chat, VK reply comment, …

A person publishes an answer in the incident page (`published_at`; a flagged «отписка» needs
an explicit confirmation there). This job then delivers it (`delivered_at`). Portal, ПОС and
Open311 citizens read the answer themselves (/track, Open311 `status_notes`), so for them
publishing is enough.

E-mail (when MCU_SMTP_HOST is set): one reply letter per citizen address of the incident.
Delivery is once per answer for all channels: an SMTP failure is recorded in the
`answer_delivered` audit event («email: ошибка — …») and is not retried automatically, since
a retry of the answer would repeat the VK comment and the Telegram message; the answer stays
published on the incident page and a person mails it by hand (there is no resend action yet).

Citizen feedback: a final answer asks «Проблема решена?» in the citizen's own channel —
Telegram buttons (app/bot.py); in VK the reply comment ends with the question, and an e-mail
reply letter ends with it (app/feedback_replies.py remembers where it was asked and reads the
citizen's «да / частично / нет» reply, brought by the collectors, as their verdict). Portal,
ПОС and Open311 citizens answer on /track. Messages taken as verdicts get no answers.
"""

from __future__ import annotations

import logging
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from sqlalchemy.orm import Session

from app import feedback_replies
from app import repository as app_repo
from app.context import AppContext
from collectors.errors import CollectorError
from collectors.mail_send import SmtpOptions, reply_for_message, send_replies
from collectors.vk import post_reply
from collectors.vk_client import VkClient
from collectors.vk_parse import reply_target
from core.models import Answer, Incident, Message, Source
from incidents import audit

log = logging.getLogger("mcu.publish")
PASSIVE_KINDS = frozenset({"portal", "pos", "open311", "demo"})
PUBLISH_BATCH = 50
EMAIL_OFF = "email: ответ по почте не отправляется автоматически (SMTP не подключён)"


def _vk_reply(
    ctx: AppContext,
    session: Session,
    *,
    source: Source,
    message: Message,
    answer: Answer,
    now: datetime,
) -> str:
    token = source.secret or ctx.settings.vk_token
    if not token:
        return "vk: нет ключа доступа"
    group_id, post_id, comment_id = reply_target(message.external_id)
    ask = answer.kind == "final"
    text = f"{answer.text}\n\n{feedback_replies.VK_QUESTION}" if ask else answer.text
    client = VkClient(token=token, api_base=ctx.settings.vk_api_base)
    try:
        new_id = post_reply(
            client=client,
            group_id=abs(group_id),
            post_id=post_id,
            text=text,
            reply_to_comment=comment_id,
            guid=f"mcu-{answer.id}-{message.id}",
        )
    finally:
        client.close()
    if not ask:
        return f"vk: комментарий {new_id}"
    feedback_replies.remember_vk_question(
        session,
        answer=answer,
        message=message,
        owner_id=-abs(group_id),  # post_reply writes to the community's wall
        post_id=post_id,
        comment_id=new_id,
        now=now,
    )
    return f"vk: комментарий {new_id} с вопросом «Проблема решена?»"


def _email_letters(
    ctx: AppContext,
    options: SmtpOptions,
    *,
    answer: Answer,
    incident: Incident,
    messages: list[Message],
    now: datetime,
) -> tuple[list[tuple[EmailMessage, Message]], list[str]]:
    """One reply per address (the first letter from it is answered); unusable ones reported."""
    letters: list[tuple[EmailMessage, Message]] = []
    errors: list[str] = []
    seen: set[str] = set()
    for message in messages:
        key = (message.contact or "").strip().lower()
        if key and key in seen:
            continue
        seen.add(key)
        try:
            letter = reply_for_message(
                message,
                options=options,
                text=answer.text,
                number=incident.number,
                track_url=f"{ctx.settings.base_url}/track",
                answer_id=answer.id,
                now=now,
                question=feedback_replies.EMAIL_QUESTION if answer.kind == "final" else None,
            )
        except CollectorError as exc:
            errors.append(f"email: ошибка — {exc}")
        else:
            letters.append((letter, message))
    return letters, errors


def _email_replies(
    ctx: AppContext,
    session: Session,
    *,
    answer: Answer,
    incident: Incident,
    messages: list[Message],
    now: datetime,
) -> list[str]:
    """E-mail the answer to the incident's letters; result lines for the audit event."""
    try:
        options = SmtpOptions.from_settings(ctx.settings)
    except CollectorError as exc:
        return [f"email: ошибка — {exc}"]
    if options is None:
        return [EMAIL_OFF]
    letters, results = _email_letters(
        ctx, options, answer=answer, incident=incident, messages=messages, now=now
    )
    report = send_replies(options, [letter for letter, _ in letters])
    if answer.kind == "final":  # remember where «Проблема решена?» went, to read the reply
        sent = set(report.sent)
        for letter, message in letters:
            if str(letter["To"]) in sent:
                feedback_replies.remember_email_question(
                    session,
                    answer=answer,
                    message=message,
                    letter_id=str(letter["Message-ID"]),
                    to=str(letter["To"]),
                    now=now,
                )
    if report.sent:
        results.append(f"email: отправлено на {len(report.sent)} адрес(ов)")
    results.extend(f"email: ошибка — {reason}" for reason in report.errors)
    return results


def _channel_results(
    ctx: AppContext, session: Session, *, answer: Answer, incident: Incident, now: datetime
) -> list[str]:
    results: list[str] = []
    telegram_done = False
    emails: list[Message] = []
    for message, source in app_repo.incident_messages_with_sources(
        session, incident_id=incident.id
    ):
        kind = source.kind
        if feedback_replies.is_feedback_reply(message):
            continue  # the citizen's «да / нет»: their first message is answered
        if (source.settings or {}).get("demo") or kind in PASSIVE_KINDS:
            results.append(f"{kind}: доступен заявителю по номеру")
        elif kind == "vk" and not message.external_id.startswith("dm-"):
            try:
                results.append(
                    _vk_reply(ctx, session, source=source, message=message, answer=answer, now=now)
                )
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
            emails.append(message)
    if emails:
        results.extend(
            _email_replies(ctx, session, answer=answer, incident=incident, messages=emails, now=now)
        )
    return results


def deliver_answer(
    ctx: AppContext, session: Session, *, answer: Answer, now: datetime
) -> list[str]:
    """Send one answer to every channel of its incident and mark it delivered (audited)."""
    incident = session.get(Incident, answer.incident_id)
    if incident is None:
        return []
    results = sorted(set(_channel_results(ctx, session, answer=answer, incident=incident, now=now)))
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
