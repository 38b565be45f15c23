"""Lexicon rules for urgency: outages that hit many people now, cold, threats to life."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import reduce
from operator import or_

import numpy as np

_UTILITY = r"(?:свет\w*|электричеств\w*|электроэнерги\w*|отоплени\w*|тепл[оа]\b|вод\w*|газ[аоу]?\b)"
_OUTAGE = re.compile(
    r"\b(?:нет|отсутству\w*|отключ\w*|отключил\w*|пропал\w*|без|не дают|не подают)\s+"
    r"(?:\w+\s+){0,2}?" + _UTILITY
)
# "Many people" or "long enough to hurt": whole settlement/street/house, days, since yesterday.
_SCALE = re.compile(
    r"\b(?:(?:во? )?(?:все\w*|цел\w*|весь)\s+(?:\w+\s+)?"
    r"(?:сел\w*|поселк\w*|поселени\w*|деревн\w*|улиц\w*|дом\w*|район\w*|микрорайон\w*|квартал\w*"
    r"|подъезд\w*|город\w*|стояк\w*)|сут(?:ки|ок)\b|(?:втор|трет|четверт)\w+\s+(?:день|сутк\w*|дня)"
    r"|\d+\s*(?:-?х\s+)?(?:дн\w*|сут\w*|час\w*|недел\w*)|недел\w+|несколько\s+(?:дней|суток|часов)"
    r"|со вчера\w*|всю ночь|с утра|жител\w+|\d+\s+дом\w*|многоквартирн\w+)"
)
_NO_HEAT = re.compile(r"\b(?:нет|отсутству\w*|отключ\w*|без)\s+(?:\w+\s+)?отоплени\w*")
_COLD = re.compile(
    r"(?:[-−–]\s?[1-5]\d\s*(?:°|град\w*)?.{0,60}?(?:батаре|отоплен|холодн|мерзн|замерза))"
    r"|(?:батаре\w*\s+(?:\w+\s+)?(?:холодн|ледян))|(?:(?:холодн|ледян)\w*\s+батаре)"
    r"|(?:замерза\w*|мерзн\w*)\s+(?:\w+\s+)?(?:дет|квартир|дом)",
    re.DOTALL,
)
# Every branch starts at a word start: the leading \b makes the search ~6x faster.
_THREAT = re.compile(
    r"\b(?:угроз\w*\s+(?:для\s+)?(?:жизн|здоров|обрушен)|опасн\w*\s+для\s+(?:жизни|здоровья)"
    r"|(?:может|могут)\s+(?:\w+\s+)?(?:погибнуть|убить|покалечить|травмировать)"
    r"|\bпогиб\w*|\bпострадал\w*|\bтравмир\w*|\bпожар\w*|загорел\w*|задымлен\w*"
    r"|(?<!не )\bгор(?:ит|ят)\b(?!\s+(?:\w+\s+)?(?:свет|ламп|фонар|освещ|огн|огон))"
    r"|утечк\w*\s+газ\w*|запах\w*\s+газ\w*|пахнет\s+газ\w*|\bвзрыв\w*|обрушил\w*|обрушен\w*"
    r"|\bрухнул\w*|провалил\w*|затопил\w*|затоплен\w*|подтоплен\w*|наводнен\w*|\bпаводк?\w*"
    r"|оборван\w*\s+провод\w*|провод\w*\s+(?:\w+\s+)?(?:под напряжением|оборван\w*|на земле)"
    r"|оголенн\w*\s+провод\w*|\bискрит\b|\bсосульк\w*|наледь\s+на\s+крыше|снег\w*\s+(?:\w+\s+)?с\s+крыш"
    r"|упал\w*\s+(?:\w+\s+)?дерев\w*|дерев\w*\s+(?:\w+\s+)?упал\w*|открыт\w*\s+(?:канализационн\w*\s+)?"
    r"(?:люк|колод)\w*|без\s+крышки|\bтонет\b|\bутонул\w*|\bэвакуац\w*|\bчс\b)"
)


# Each rule runs only when a word starts with one of its stems: the stem test is ~10x cheaper
# than the big alternation (and remembered per token), most messages have none of these words.
_THREAT_STEMS = (
    "угроз",
    "опасн",
    "погиб",
    "убить",
    "покалеч",
    "травм",
    "пострадал",
    "пожар",
    "загорел",
    "задымл",
    "горит",
    "горят",
    "утечк",
    "запах",
    "пахнет",
    "взрыв",
    "обрушил",
    "обрушен",
    "рухнул",
    "провалил",
    "затопил",
    "затоплен",
    "подтоплен",
    "наводнен",
    "павод",
    "оборван",
    "провод",
    "оголенн",
    "искрит",
    "сосульк",
    "наледь",
    "крыш",
    "упал",
    "дерев",
    "открыт",
    "крышки",
    "тонет",
    "утонул",
    "эвакуац",
    "чс",
)
_COLD_STEMS = ("батаре", "отоплен", "холодн", "ледян", "мерзн", "замерз")
_UTILITY_STEMS = ("свет", "электр", "отоплен", "тепл", "вод", "газ")
_UTILITY_WORD, _COLD_WORD, _THREAT_WORD = 1, 2, 4
_STEM_GROUPS = (
    (_UTILITY_WORD, _UTILITY_STEMS),
    (_COLD_WORD, _COLD_STEMS),
    (_THREAT_WORD, _THREAT_STEMS),
)
# Ties by the stem itself: the pattern is then the same in every process (rule_seeds.py).
_ALL_STEMS = sorted(
    {stem for _, stems in _STEM_GROUPS for stem in stems}, key=lambda stem: (-len(stem), stem)
)
# Stems at the start of a [а-я]+ word, longest first; a matched stem stands for every stem
# that is a prefix of it, so one pass tells which groups start some word of the text.
_STEM_AT_WORD_START = re.compile(r"(?<![а-я])(?:" + "|".join(_ALL_STEMS) + ")")
_STEM_TUPLE = tuple(_ALL_STEMS)
_CYRILLIC_WORD = re.compile(r"[а-я]+")
_GROUPS_OF_STEM = {
    stem: sum(flag for flag, stems in _STEM_GROUPS if stem.startswith(stems)) for stem in _ALL_STEMS
}
# Tokens remembered with their flags; forgotten all at once at this many (~10 MB).
_MAX_REMEMBERED = 100_000


def _stem_flags(text: str) -> int:
    flags = 0
    for stem in _STEM_AT_WORD_START.findall(text):
        flags |= _GROUPS_OF_STEM[stem]
    return flags


def token_flags(token: str) -> int:
    """Which stem groups start some [а-я]+ word of one token (the _STEM_GROUPS flags)."""
    # A token of Cyrillic letters only is one word: a prefix test rules most of them out.
    if _CYRILLIC_WORD.fullmatch(token) is not None and not token.startswith(_STEM_TUPLE):
        return 0
    return _stem_flags(token)


def remember_token_flags(tokens: Sequence[str], flags: np.ndarray) -> None:
    """Take token_flags computed earlier (shipped with a model) as known flags."""
    if len(_TOKEN_FLAGS) + len(tokens) > _MAX_REMEMBERED:
        _TOKEN_FLAGS.clear()
    _TOKEN_FLAGS.update(zip(tokens, flags.tolist(), strict=True))


# What token_flags reads besides its own code: shipped flags are used only while all of it
# is unchanged (classifier/rule_seeds.py).
FLAGS_DEFINITION = (_STEM_GROUPS, _STEM_AT_WORD_START.pattern, _CYRILLIC_WORD.pattern)


class _TokenFlags(dict[str, int]):
    """token_flags per token, remembered across messages."""

    def __missing__(self, token: str) -> int:
        if len(self) >= _MAX_REMEMBERED:
            self.clear()
        flags = self[token] = token_flags(token)
        return flags


_TOKEN_FLAGS = _TokenFlags()


def urgent_rules(normalized: str, tokens: Sequence[str] | None = None) -> list[str]:
    """Names of the urgency rules that fire on a normalised text.

    `tokens` (normalize.tokenize of the same text) only makes it faster: every [а-я]+ word
    of the text lies inside exactly one token, so the stem pre-checks give the same answer
    from per-token flags remembered across messages.
    """
    if tokens is None:
        flags = _stem_flags(normalized)
    else:
        flags = reduce(or_, map(_TOKEN_FLAGS.__getitem__, tokens), 0)
    fired: list[str] = []
    if flags & _UTILITY_WORD:
        if _NO_HEAT.search(normalized):
            fired.append("rule:no_heating")
        elif _OUTAGE.search(normalized) and _SCALE.search(normalized):
            fired.append("rule:mass_outage")
    if flags & _COLD_WORD and _COLD.search(normalized):
        fired.append("rule:cold")
    threat = _THREAT.search(normalized) if flags & _THREAT_WORD else None
    if threat:
        fired.append(f"rule:threat:{threat.group(0).strip()}")
    return fired
