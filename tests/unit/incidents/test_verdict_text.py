"""The citizen's free-text verdict: «да» / «частично» / «нет», negations, ambiguity, comments."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from incidents.verdict_text import COMMENT_LIMIT, ParsedVerdict, parse_verdict

YES = [
    "Да",
    "да",
    "ДА.",
    "Да!!!",
    "да 👍",
    "👍",
    "Ага",
    "угу",
    "Конечно",
    "Да-да",
    "Решена",
    "решено",
    "Проблема решена",
    "Проблема решена!",
    "Спасибо, решили!",
    "спасибо решили",
    "Спасибо большое, всё сделали",
    "Всё сделали, спасибо",
    "Уже сделали",
    "Вроде решили",
    "Добрый день! Да, решили",
    "Да, конечно",
    "Да решили",
    "Заделали",
    "Да, спасибо! Но во дворе ещё одна яма",  # the second sentence is a comment, not a «но»
]
NO = [
    "Нет",
    "нет.",
    "НЕТ!!!",
    "Неа",
    "не-а",
    "Не решена",
    "не решено",
    "Проблема не решена",
    "Не сделали",
    "Ничего не сделали",
    "ничего не изменилось",
    "Так и не сделали",
    "До сих пор не решили",
    "Никто не приходил",
    "Никто ничего не сделал",
    "Пока нет",
    "Ещё нет",
    "К сожалению, нет",
    "Увы, нет",
    "Спасибо, но ничего не сделали",
    "Да нет",  # the idiom is a no
    "Да ничего не сделали",  # «да» as a particle, no comma
    "Конечно нет",
    "Нет, конечно",
    "Без изменений",
    "Всё так же",
    "👎",
    "Нет, не решена",
    "Нет 😡",
]
PARTIAL = [
    "Частично",
    "частично.",
    "Отчасти",
    "Не до конца",
    "не полностью",
    "Не совсем",
    "Наполовину",
    "Почти",
    "Решена частично",
    "Частично решена",
    "Проблема решена частично",
    "Решили не до конца",
    "Да, но не до конца",
    "Да, но асфальт положили только на половине ямы",
    "Не всё сделали",
    "Нет, частично",
]
NOT_A_VERDICT = [
    "",
    "   ",
    "!!!",
    "🙂",
    "Спасибо",  # thanks for the answer, not a judgement of it
    "Спасибо!",
    "Спасибо за ответ",
    "Нет света третий день",  # a new complaint that happens to start with «нет»
    "Нету воды с утра",
    "Да уж",
    "Да здравствует администрация",
    "Когда сделаете?",
    "Решена?",  # a question back
    "Да?",
    "Нет, когда сделаете?",
    "Яма на месте",
    "На Ленина 7 снова яма, машины бьют подвеску",
    "Нет, всё решили",  # contradicts itself
    "Да, не решена",
    "Решили, но яма на месте, ничего не сделали",
    "Ок",
    "Хорошо",
    "Приходите посмотрите сами",
    "Где решена? Яма на месте",
]


@pytest.mark.parametrize("text", YES)
def test_yes(text: str) -> None:
    parsed = parse_verdict(text)
    assert parsed is not None and parsed.verdict == "yes", text


@pytest.mark.parametrize("text", NO)
def test_no(text: str) -> None:
    parsed = parse_verdict(text)
    assert parsed is not None and parsed.verdict == "no", text


@pytest.mark.parametrize("text", PARTIAL)
def test_partial(text: str) -> None:
    parsed = parse_verdict(text)
    assert parsed is not None and parsed.verdict == "partial", text


@pytest.mark.parametrize("text", NOT_A_VERDICT)
def test_not_a_verdict(text: str) -> None:
    assert parse_verdict(text) is None


def test_negation_never_reads_as_the_word_it_negates() -> None:
    for word in ("решена", "решено", "решили", "сделали", "устранили", "исправили"):
        for text in (f"не {word}", f"Не {word}!", f"так и не {word}", f"ничего не {word}"):
            parsed = parse_verdict(text)
            assert parsed is not None and parsed.verdict == "no", text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Нет, яма на месте", ParsedVerdict("no", "яма на месте")),
        ("нет, яма на месте", ParsedVerdict("no", "яма на месте")),
        ("Да, спасибо!", ParsedVerdict("yes", "спасибо!")),
        ("Проблема не решена — яма на месте", ParsedVerdict("no", "яма на месте")),
        ("НЕТ!!! Яма на месте 😡", ParsedVerdict("no", "Яма на месте 😡")),
        (
            "Нет\n\nЯма на месте, никто не приезжал",
            ParsedVerdict("no", "Яма на месте, никто не приезжал"),
        ),
        ("Частично: яму засыпали щебнем", ParsedVerdict("partial", "яму засыпали щебнем")),
        ("Спасибо, решили", ParsedVerdict("yes", None)),
        ("Да 👍", ParsedVerdict("yes", None)),
        ("  Нет.  ", ParsedVerdict("no", None)),
    ],
)
def test_the_rest_of_the_text_is_the_comment(text: str, expected: ParsedVerdict) -> None:
    assert parse_verdict(text) == expected


def test_comment_is_capped() -> None:
    parsed = parse_verdict("Нет, " + "яма " * 2000)
    assert parsed is not None and parsed.comment is not None
    assert len(parsed.comment) == COMMENT_LIMIT


def test_yo_and_case_do_not_matter() -> None:
    assert (
        parse_verdict("ВСЁ СДЕЛАЛИ") == parse_verdict("все сделали") == ParsedVerdict("yes", None)
    )
    assert parse_verdict("Ещё НЕ РЕШЕНА") == ParsedVerdict("no", None)


def test_none_text() -> None:
    assert parse_verdict(None) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_gives_a_verdict_or_none_and_never_raises(text: str) -> None:
    """Citizens' replies are arbitrary: emoji, NUL bytes, lone surrogates, other scripts."""
    found = parse_verdict(text)
    assert found is None or found.verdict in {"yes", "partial", "no"}


def test_a_huge_reply_is_read_from_its_start_only() -> None:
    found = parse_verdict("Нет, " + "яма на месте " * 100_000)
    assert found is not None and found.verdict == "no"
    assert found.comment is not None and len(found.comment) < 10_000
