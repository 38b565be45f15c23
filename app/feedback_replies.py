"""«Проблема решена?» in VK and by e-mail: ask after a final answer, read the reply as a verdict.

Asking (app/publish.py): a final answer delivered as a VK reply comment ends with
`VK_QUESTION`; a reply letter ends with `EMAIL_QUESTION`. Each question is remembered as a
`FeedbackRequest`: the VK comment id (and its post) or the letter's Message-ID, with the
person asked (pseudonymous author id, e-mail address).

Reading (`take_feedback_replies`, called by app/pipeline.py before classification): a new
message is the citizen's verdict when

- VK: it replies to the question comment (VK `reply_to_comment`), or is a later comment in
  the same post by the same VK user; e-mail: its In-Reply-To/References name the letter
  we sent, or its subject carries the incident number of a question asked at that address;
- it comes from the person asked. A reply by anyone else (a neighbour answering in the
  thread, a letter from another address) is not their verdict and goes through the normal
  pipeline: it may be a new complaint, and the classifier and the operator judge it;
- its text opens with a verdict (incidents.verdict_text; e-mail: the lines above the
  quoted history). Anything else goes through the normal pipeline too.

A verdict is recorded with `record_feedback` («нет» reopens the incident and counts against
the department); the message is linked to the incident (status `linked`, shown in its
messages) and marked in `extra["feedback"]`, so later answers are not sent to it. The same
verdict repeated to the same question is not counted again; a changed one is.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app import repository_feedback as repo
from app.context import AppContext
from collectors.mail_parse import reply_text
from collectors.vk_parse import reply_target
from core.models import Answer, FeedbackRequest, Incident, Message
from incidents import repository as incidents_repo
from incidents import service
from incidents.rules import NUMBER_PREFIX
from incidents.verdict_text import ParsedVerdict, parse_verdict

log = logging.getLogger("mcu.feedback")
VK_QUESTION = (
    "Проблема решена? Ответьте на этот комментарий: да, частично или нет "
    "(можно добавить пояснение)."
)
EMAIL_QUESTION = (
    "Проблема решена? Ответьте на это письмо одним словом: да, частично или нет — "
    "можно добавить пояснение."
)
_NUMBER = re.compile(rf"{re.escape(NUMBER_PREFIX)}-\d{{4}}-\d{{6,}}", re.IGNORECASE)


# --- asking -------------------------------------------------------------------------------


def remember_vk_question(
    session: Session,
    *,
    answer: Answer,
    message: Message,
    owner_id: int,
    post_id: int,
    comment_id: int,
    now: datetime,
) -> FeedbackRequest:
    """The question posted as VK comment `comment_id` under post `post_id` of `owner_id`."""
    return repo.remember_request(
        session,
        channel="vk",
        ref=f"comment{owner_id}_{post_id}_{comment_id}",
        thread=f"wall{owner_id}_{post_id}",
        incident_id=answer.incident_id,
        answer_id=answer.id,
        message_id=message.id,
        author_id=message.author_id,
        contact=None,
        now=now,
    )


def remember_email_question(
    session: Session, *, answer: Answer, message: Message, letter_id: str, to: str, now: datetime
) -> FeedbackRequest:
    """The question sent in the letter with Message-ID `letter_id` to address `to`."""
    return repo.remember_request(
        session,
        channel="email",
        ref=letter_id,
        thread=None,
        incident_id=answer.incident_id,
        answer_id=answer.id,
        message_id=message.id,
        author_id=message.author_id,
        contact=to.strip().lower(),
        now=now,
    )


def is_feedback_reply(message: Message) -> bool:
    """Whether the message was taken as a verdict (answers are not sent to it)."""
    return bool((message.extra or {}).get("feedback"))


# --- matching (pure over loaded rows) -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerdictReply:
    """A message read as the citizen's verdict to one question."""

    message: Message
    request: FeedbackRequest
    parsed: ParsedVerdict


def _comment_id(external_id: str | None) -> int | None:
    try:
        return reply_target(external_id or "")[2]
    except ValueError:
        return None


def _same_vk_user(message: Message, request: FeedbackRequest) -> bool:
    return bool(message.author_id) and message.author_id == request.author_id


def _same_sender(message: Message, request: FeedbackRequest) -> bool:
    contact = (message.contact or "").strip().lower()
    same_address = bool(contact) and contact == request.contact
    return same_address or _same_vk_user(message, request)


def vk_request(
    message: Message, *, by_ref: dict[str, FeedbackRequest], in_thread: Sequence[FeedbackRequest]
) -> FeedbackRequest | None:
    """The question a VK comment answers, if its author is the person asked."""
    own_id = _comment_id(message.external_id)
    if own_id is None:
        return None  # a wall post or a community message, not a comment
    direct = by_ref.get(message.reply_to or "")
    if direct is not None:
        return direct if _same_vk_user(message, direct) else None
    asked_before = [
        r
        for r in in_thread
        if r.thread == message.thread_id
        and _same_vk_user(message, r)
        and (_comment_id(r.ref) or own_id) < own_id
    ]
    return asked_before[-1] if asked_before else None


def email_refs(message: Message) -> list[str]:
    """Message-IDs a letter points back at: In-Reply-To, References, the thread root."""
    extra: dict[str, Any] = message.extra or {}
    refs = [message.reply_to, *(extra.get("references") or []), message.thread_id]
    return [ref for ref in refs if isinstance(ref, str) and ref]


def subject_number(message: Message) -> str | None:
    """The incident number in the letter's subject («Re: … [МЦУ-2026-000123]»)."""
    subject = (message.extra or {}).get("subject")
    found = _NUMBER.search(subject) if isinstance(subject, str) else None
    return found.group().upper() if found else None


def email_request(
    message: Message,
    *,
    by_ref: dict[str, FeedbackRequest],
    by_number: dict[str, list[FeedbackRequest]],
) -> FeedbackRequest | None:
    """The question a letter answers, if it comes from the address asked."""
    named = [by_ref[ref] for ref in email_refs(message) if ref in by_ref]
    if named:
        latest = max(named, key=lambda r: r.id)
        return latest if _same_sender(message, latest) else None
    number = subject_number(message)
    asked = [r for r in by_number.get(number or "", []) if _same_sender(message, r)]
    return asked[-1] if asked else None


def email_reply_text(message: Message) -> str:
    """The new text of a letter: without the subject line and the quoted history."""
    text = message.text or ""
    subject = (message.extra or {}).get("subject")
    if isinstance(subject, str) and subject and text.startswith(subject):
        text = text.partition("\n")[2]
    return reply_text(text)


# --- loading and recording ----------------------------------------------------------------


def _maybe_reply(message: Message) -> bool:
    """Cheap test before any query: a reply names a parent, a thread or an incident number."""
    return bool(message.reply_to or message.thread_id or subject_number(message))


def _vk_replies(session: Session, messages: list[Message]) -> Iterable[VerdictReply]:
    by_ref = repo.requests_by_ref(
        session, channel="vk", refs={m.reply_to for m in messages if m.reply_to}
    )
    threads = {m.thread_id for m in messages if m.thread_id}
    in_thread = repo.requests_in_threads(session, channel="vk", threads=threads)
    for message in messages:
        request = vk_request(message, by_ref=by_ref, in_thread=in_thread)
        parsed = parse_verdict(message.text) if request is not None else None
        if request is not None and parsed is not None:
            yield VerdictReply(message, request, parsed)


def _email_replies(session: Session, messages: list[Message]) -> Iterable[VerdictReply]:
    refs = {ref for m in messages for ref in email_refs(m)}
    by_ref = repo.requests_by_ref(session, channel="email", refs=refs)
    numbers = {n for m in messages if (n := subject_number(m))}
    by_number: dict[str, list[FeedbackRequest]] = {}
    for asked, number in repo.requests_for_numbers(session, channel="email", numbers=numbers):
        by_number.setdefault(number.upper(), []).append(asked)
    for message in messages:
        request = email_request(message, by_ref=by_ref, by_number=by_number)
        parsed = parse_verdict(email_reply_text(message)) if request is not None else None
        if request is not None and parsed is not None:
            yield VerdictReply(message, request, parsed)


def find_replies(session: Session, messages: Sequence[Message]) -> list[VerdictReply]:
    """The messages that are verdicts to a question we asked (at most a few queries)."""
    candidates = [m for m in messages if _maybe_reply(m)]
    if not candidates:
        return []
    kinds = repo.source_kinds(session, source_ids={m.source_id for m in candidates})
    vk = [m for m in candidates if kinds.get(m.source_id) == "vk"]
    mail = [m for m in candidates if kinds.get(m.source_id) == "email"]
    replies = list(_vk_replies(session, vk)) if vk else []
    return replies + (list(_email_replies(session, mail)) if mail else [])


def _target_incident(session: Session, request: FeedbackRequest) -> Incident:
    """The incident the answered message belongs to now (it may have been merged since)."""
    asked = session.get(Message, request.message_id) if request.message_id else None
    incident_id = asked.incident_id if asked and asked.incident_id else request.incident_id
    return incidents_repo.get_incident(session, incident_id=incident_id, for_update=True)


def record_reply(ctx: AppContext, session: Session, reply: VerdictReply, *, now: datetime) -> bool:
    """Record the verdict (unless it repeats the last one to this question); link the message."""
    request, parsed, message = reply.request, reply.parsed, reply.message
    incident = _target_incident(session, request)
    # Read again under the incident's lock: another worker may have just taken a verdict.
    session.refresh(request, attribute_names=["verdict", "answered_at"])
    repeated = request.verdict == parsed.verdict
    feedback_id = None
    if not repeated:
        feedback = service.record_feedback(
            session,
            incident=incident,
            verdict=parsed.verdict,
            comment=parsed.comment,
            channel=request.channel,
            now=now,
            calendar=ctx.calendar,
        )
        feedback_id = feedback.id
        request.verdict, request.answered_at = parsed.verdict, now
    message.incident_id, message.status = incident.id, "linked"
    mark = {"verdict": parsed.verdict, "request_id": request.id, "feedback_id": feedback_id}
    message.extra = {**(message.extra or {}), "feedback": mark | {"repeated": repeated}}
    return not repeated


def take_feedback_replies(
    ctx: AppContext,
    session: Session,
    messages: list[Message],
    *,
    now: datetime,
    replies: list[VerdictReply] | None = None,
) -> list[Message]:
    """Record citizens' verdict replies (`find_replies`'s, found here unless given); return
    the other messages, for classification."""
    if replies is None:
        replies = find_replies(session, messages)
    if not replies:
        return messages
    taken: set[int] = set()
    for reply in replies:
        taken.add(reply.message.id)
        try:
            with session.begin_nested():
                record_reply(ctx, session, reply, now=now)
        except Exception as exc:  # one bad reply fails alone, as in the rest of the pipeline
            log.exception("verdict reply %s failed", reply.message.id)
            reply.message.status = "failed"
            reply.message.error = f"{type(exc).__name__}: {exc}"[:2000]
    return [m for m in messages if m.id not in taken]
