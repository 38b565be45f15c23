"""The citizen's verdict in their own words: «да» / «частично» / «нет» from a free-text reply.

Pure: text in, `ParsedVerdict` or None out. A reply counts as a verdict only when it *opens*
with one (after greetings and thanks): «Да, спасибо!», «Спасибо, решили», «Нет, яма на
месте», «Не до конца», «Проблема не решена». The rest of the text is the comment.

Deliberately cautious, because a miss costs little (the reply becomes an ordinary message
an operator sees) while a false «нет» reopens an incident and counts against a department:

- negations bind first: «не решена», «так и не сделали», «ничего не изменилось» are «нет»,
  never the «решена» inside them; «не до конца», «не полностью», «не совсем» are «частично»;
- a bare «да»/«нет» must stand alone (end of text, punctuation, or another verdict word
  after it): «Нет света третий день» is a new complaint, not a verdict;
- «да, но …» and «решена частично» are «частично»; «да ничего не сделали» and «да нет»
  (a particle, no comma) are «нет»; a «нет» followed by a «решили» in the same sentence,
  or a «да» followed by a separated «не решена», is ambiguous and gives None;
- a first sentence that ends with «?» is a question back, not an answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["COMMENT_LIMIT", "ParsedVerdict", "parse_verdict"]

Verdict = Literal["yes", "partial", "no"]
COMMENT_LIMIT = 2000

_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")
_SENTENCE_END = re.compile(r"[.!?…\n]")
_LEADING_JUNK = re.compile(r"^[\W_]+")

# Words that may precede the verdict («Спасибо большое, всё сделали», «К сожалению, нет»).
_FILLERS = frozenset(
    {"спасибо", "спс", "благодарю", "большое", "огромное", "здравствуйте", "добрый", "доброе"}
    | {"день", "вечер", "утро", "ну", "уже", "все", "проблема", "вопрос", "пока", "еще", "к"}
    | {"сожалению", "увы", "но", "так", "вроде", "похоже", "кажется"}
)
# Words for «done»; each also makes «не …», «ничего не …», «… частично» phrases below.
_DONE = frozenset(
    {"решена", "решено", "решен", "решили", "решила", "решился", "решилась", "сделали"}
    | {"сделано", "сделан", "сделала", "устранили", "устранена", "устранено", "устранен"}
    | {"исправили", "исправлено", "починили", "отремонтировали", "заделали", "убрали"}
    | {"вывезли", "сделал"}
)
_CHANGED = ("изменилось", "поменялось", "делают", "делается", "приходил", "пришел", "приехал")
_YES_PARTICLES = frozenset({"да", "ага", "угу", "конечно", "да-да"})  # «ок» only acknowledges
_NO_PARTICLES = frozenset({"нет", "неа", "не-а", "нету"})


def _phrases() -> dict[tuple[str, ...], Verdict]:
    table: dict[tuple[str, ...], Verdict] = {}
    for word in _DONE:
        table[(word,)] = "yes"
        table[("частично", word)] = "partial"
        table[(word, "частично")] = "partial"
        table[(word, "не", "полностью")] = "partial"
        table[(word, "не", "до", "конца")] = "partial"
        table[("не", "все", word)] = "partial"
        for prefix in (("не",), ("так", "и", "не"), ("ничего", "не"), ("до", "сих", "пор", "не")):
            table[(*prefix, word)] = "no"
        table[("никто", "ничего", "не", word)] = "no"
    for word in _CHANGED:
        table[("ничего", "не", word)] = "no"
        table[("никто", "не", word)] = "no"
    partial: list[tuple[str, ...]] = [("частично",), ("отчасти",), ("наполовину",), ("почти",)]
    partial += [("не", "все"), ("не", "до", "конца"), ("не", "полностью"), ("не", "совсем")]
    no: list[tuple[str, ...]] = [("без", "изменений"), ("все", "так", "же"), ("все", "также")]
    no += [("да", "нет"), ("конечно", "нет"), ("нет", "конечно")]
    table.update(dict.fromkeys(partial, "partial"))
    table.update(dict.fromkeys(no, "no"))
    return table


_PHRASES = _phrases()
_LONGEST = max(len(words) for words in _PHRASES)


@dataclass(frozen=True, slots=True)
class ParsedVerdict:
    """What the citizen said: yes | partial | no, and the rest of their text (or None)."""

    verdict: Verdict
    comment: str | None


@dataclass(frozen=True, slots=True)
class _Token:
    word: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class _Cue:
    verdict: Verdict
    start: int  # token index of the phrase
    end: int  # token index after it
    particle: bool  # a bare да/нет, weaker than a phrase


def _tokens(text: str) -> list[_Token]:
    return [
        _Token(m.group().lower().replace("ё", "е"), m.start(), m.end())
        for m in _WORD.finditer(text)
    ]


def _cue_at(tokens: list[_Token], i: int) -> _Cue | None:
    """The longest verdict phrase starting at token i (negated phrases are the longer ones)."""
    for size in range(min(_LONGEST, len(tokens) - i), 0, -1):
        words = tuple(t.word for t in tokens[i : i + size])
        if words in _PHRASES:
            return _Cue(_PHRASES[words], i, i + size, particle=False)
    word = tokens[i].word
    if word in _YES_PARTICLES or word in _NO_PARTICLES:
        return _Cue("yes" if word in _YES_PARTICLES else "no", i, i + 1, particle=True)
    return None


def _gap(text: str, tokens: list[_Token], i: int) -> str:
    """The characters between token i-1 and token i (up to the end for i == len)."""
    start = tokens[i - 1].end if i > 0 else 0
    end = tokens[i].start if i < len(tokens) else len(text)
    return text[start:end]


def _separated(text: str, tokens: list[_Token], i: int) -> bool:
    """Whether token i is set apart from the one before by punctuation, a symbol or a line."""
    gap = _gap(text, tokens, i)
    return bool(gap.strip()) or "\n" in gap


def _sentence_end(text: str, tokens: list[_Token], start: int) -> int:
    """Index of the first token after `start` that begins a new sentence."""
    for i in range(start + 1, len(tokens)):
        if _SENTENCE_END.search(_gap(text, tokens, i)):
            return i
    return len(tokens)


def _later_cues(tokens: list[_Token], start: int, end: int) -> list[_Cue]:
    """Verdict phrases in tokens[start:end]; bare particles there are ordinary words."""
    cues: list[_Cue] = []
    i = start
    while i < end:
        cue = _cue_at(tokens, i)
        if cue is not None and not cue.particle and cue.end <= end:
            cues.append(cue)
            i = cue.end
        else:
            i += 1
    return cues


def _decide(text: str, tokens: list[_Token], first: _Cue, later: list[_Cue]) -> Verdict | None:
    kinds = {cue.verdict for cue in later}
    if first.verdict == "partial" or "partial" in kinds:
        return "partial"
    if first.verdict == "yes":
        if "no" in kinds:
            adjacent = later[0].start == first.end and not _separated(text, tokens, first.end)
            # «да ничего не сделали» is a particle, «да, не решена» contradicts itself.
            return "no" if first.particle and adjacent else None
        follows = tokens[first.end].word if first.end < len(tokens) else ""
        return "partial" if follows in ("но", "однако") else "yes"  # «да, но …»
    return None if "yes" in kinds else "no"  # «нет, всё решили» is ambiguous


def _comment(text: str, tokens: list[_Token], end: int) -> str | None:
    rest = text[tokens[end - 1].end :] if end > 0 else text
    comment = _LEADING_JUNK.sub("", rest).strip()
    if not _WORD.search(comment):
        return None
    return comment[:COMMENT_LIMIT]


def _symbol_only(text: str) -> Verdict | None:
    if "👍" in text and "👎" not in text:
        return "yes"
    if "👎" in text and "👍" not in text:
        return "no"
    return None


def parse_verdict(text: str | None) -> ParsedVerdict | None:
    """The verdict the text opens with and the rest as a comment; None when it opens with none."""
    text = (text or "").strip()
    tokens = _tokens(text)
    if not tokens:
        symbol = _symbol_only(text)
        return ParsedVerdict(symbol, None) if symbol else None
    i = 0
    while i < len(tokens) and tokens[i].word in _FILLERS and _cue_at(tokens, i) is None:
        i += 1
    if i == len(tokens):
        return None  # «Спасибо!» alone thanks for the answer; it does not judge it
    first = _cue_at(tokens, i)
    if first is None:
        return None
    if first.particle and first.end < len(tokens) and not _separated(text, tokens, first.end):
        nxt = first.end
        if tokens[nxt].word not in _FILLERS and _cue_at(tokens, nxt) is None:
            return None  # «Нет света», «Да уж»: an ordinary sentence, not an answer
    end = _sentence_end(text, tokens, first.start)
    if "?" in _gap(text, tokens, end):
        return None  # «Решена?», «Да?»: a question back
    verdict = _decide(text, tokens, first, _later_cues(tokens, first.end, end))
    if verdict is None:
        return None
    return ParsedVerdict(verdict, _comment(text, tokens, first.end))
