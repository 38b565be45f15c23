"""Pure check of an answer for an «отписка»: no action, no term, nobody responsible, a template."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from incidents.text import max_similarity

TEMPLATE_SIMILARITY = 0.9

REASON_NO_ACTION = "нет конкретного действия: что сделано или будет сделано"
REASON_NO_TERM = "нет даты или срока"
REASON_NO_RESPONSIBLE = "не указан ответственный: исполнитель или организация"

_MONTHS = "январ|феврал|март|апрел|ма[йяе]|июн|июл|август|сентябр|октябр|ноябр|декабр"
_WEEKDAYS = "понедельник|вторник|среду|четверг|пятницу|субботу|воскресенье"

# Done or scheduled work. «направлено в …» alone is the classic отписка, so it is not here.
_ACTION = re.compile(
    r"отремонтир|ремонт\w*\s+(?:выполн|провед|произвед|заверш)|ямочн\w+ ремонт"
    r"|выполн[еия]|устран[еия]|вывез|вывоз|замен[еиая]|восстановл|восстановят"
    r"|направлен\w* бригад|бригад\w* (?:направлен|выехал|выедет|работает|приступил)"
    r"|\bустановлен[аоы]?\b|\bустанов(?:ил|ят|ит|ка)|очищен|расчищ|расчист|очистк|отсып|прочищ|прочист"
    r"|откачан|откачк|подключ|засыпан|убран|уборк|покошен|скошен|спилен|демонтир"
    r"|провед\w* работ|произвед\w* работ|работы (?:по|будут|выполн|провед|заверш)"
    r"|заверш[еиа]|подан[аоы]?\b|подач[аиу] (?:вод|тепл|электр|газ)|ликвидир|заделан|заделк"
    r"|грейдир|запланирован|включен[оаы]? в план|смонтир|заасфальтир|отремонт"
)
_TERM = re.compile(
    r"\b\d{1,2}\.\d{1,2}(?:\.\d{2,4})?\b|\b\d{1,2}:\d{2}\b"
    rf"|\b\d{{1,2}}\s+(?:{_MONTHS})\w*|\bв\s+(?:{_MONTHS})\w*|\bв\s+(?:{_WEEKDAYS})\b"
    r"|\bв срок до\b|\bдо\s+(?:конца|начала|середины|\d)|\bк\s+\d"
    r"|\bв течение\s+(?:\d|одн|дву|тр[её]|пят|десят|недел|суток|дня|месяц|час)"
    r"|\b(?:сегодня|завтра|послезавтра)\b|\bна (?:этой|следующей|текущей) неделе"
    r"|\bв\s+\d{4}\s+год|\b\d{4}\s+год|\bв\s+\w+\s+квартал"
)
_ORG_ABBR = re.compile(
    r"\b(?:МУП|МКУ|МБУ|МАУ|МУ|МП|ГУП|ОГБУ|ОГКУ|ОГУП|КГБУ|ООО|ОАО|АО|ПАО|ЗАО|ИП|ТСЖ|ТСН|УК|ЖСК"
    r"|ДЭП|ДРСУ|РЭС|ДЭК|ЖКХ|ГО и ЧС)\b"
)
_RESPONSIBLE = re.compile(
    r"«[^»]{2,80}»|\"[^\"]{2,80}\"|подряд|управляющ\w* компани|бригад|мастер|инженер"
    r"|специалист|начальник|\bглав[аыоуе]\b|директор|руководител|ответственн|\bотдел\w*"
    r"|администраци\w+ \w+ (?:сельского|городского) поселения|служб|предприяти|силами"
)
_PERSON = re.compile(
    r"\b[А-ЯЁ][а-яё]{1,30}\s+[А-ЯЁ]\.\s?[А-ЯЁ]\.|\b[А-ЯЁ]\.\s?[А-ЯЁ]\.\s?[А-ЯЁ][а-яё]{1,30}"
)
_STOCK = (
    "в ближайшее время",
    "принято к сведению",
    "взято на контроль",
    "взят на контроль",
    "в установленном порядке",
    "по мере финансирования",
    "при наличии финансирования",
    "в пределах компетенции",
    "в рамках компетенции",
    "будет рассмотрен",
)


@dataclass(frozen=True, slots=True)
class FormalCheck:
    """Result of the «отписка» check: flagged, and why (Russian, for the answer form)."""

    flagged: bool
    reasons: list[str] = field(default_factory=list)


def _lower(text: str) -> str:
    return text.lower().replace("ё", "е")


def has_action(text: str) -> bool:
    """Whether the answer names a concrete action (done or scheduled)."""
    return bool(_ACTION.search(_lower(text)))


def has_term(text: str) -> bool:
    """Whether the answer names a date or a term («до 25 ноября», «в течение 3 дней»)."""
    return bool(_TERM.search(_lower(text)))


def has_responsible(text: str) -> bool:
    """Whether the answer names a responsible person or organisation."""
    if _ORG_ABBR.search(text) or _PERSON.search(text):
        return True
    return bool(_RESPONSIBLE.search(_lower(text)))


def check_formal_reply(text: str, *, previous_answers: Sequence[str]) -> FormalCheck:
    """Flag an «отписка»: no action, no term, no one responsible, or a reused template."""
    reasons: list[str] = []
    if not has_action(text):
        reasons.append(REASON_NO_ACTION)
    if not has_term(text):
        reasons.append(REASON_NO_TERM)
    if not has_responsible(text):
        reasons.append(REASON_NO_RESPONSIBLE)
    similarity = max_similarity(text, previous_answers) if text.strip() else 0.0
    if similarity >= TEMPLATE_SIMILARITY:
        reasons.append(f"повтор шаблона: совпадает с прежним ответом на {similarity:.0%}")
    if reasons:
        stock = [phrase for phrase in _STOCK if phrase in _lower(text)]
        if stock:
            reasons.append("шаблонные формулировки: " + ", ".join(f"«{s}»" for s in stock))
    return FormalCheck(flagged=bool(reasons), reasons=reasons)
