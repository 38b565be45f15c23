"""The «отписка» check on realistic answers of municipal departments."""

from __future__ import annotations

import pytest

from incidents.formal import (
    REASON_NO_ACTION,
    REASON_NO_RESPONSIBLE,
    REASON_NO_TERM,
    check_formal_reply,
)

GOOD_ANSWERS = [
    "Порыв на водопроводе по ул. Ленина, 12 устранён 20.11.2025 бригадой МУП «Водоканал». "
    "Водоснабжение восстановлено.",
    "Здравствуйте! Яма у школы на ул. Калинина отремонтирована подрядчиком ООО «Дорстрой» 14 мая.",
    "Бригада МУП «Коммунальщик» направлена на место, ремонт теплотрассы будет выполнен "
    "в течение 3 дней. Ответственный — мастер участка Петров И.С.",
    "Контейнерная площадка на ул. Октябрьская очищена, мусор вывезен 02.03.2026 региональным "
    "оператором ООО «Биоэкология». Вывоз по графику: вторник и пятница.",
    "Замена опоры освещения на ул. Мира запланирована до 25 ноября, работы выполнит "
    "ПАО «ДЭК». Фонари будут подключены в срок до 30.11.",
    "Грейдирование дороги в с. Пузино выполнено 12.06.2026 силами администрации Пузинского "
    "сельского поселения.",
]

FORMAL_ANSWERS = [
    (
        "Ваше обращение рассмотрено. Информация принята к сведению.",
        {REASON_NO_ACTION, REASON_NO_TERM, REASON_NO_RESPONSIBLE},
    ),
    (
        "Ваше обращение направлено в отдел ЖКХ для рассмотрения в установленном порядке.",
        {REASON_NO_ACTION, REASON_NO_TERM},
    ),
    (
        "Вопрос взят на контроль, работы будут проведены в ближайшее время.",
        {REASON_NO_TERM, REASON_NO_RESPONSIBLE},
    ),
    (
        "Ремонт дороги будет рассмотрен при наличии финансирования в 2027 году.",
        {REASON_NO_ACTION, REASON_NO_RESPONSIBLE},
    ),
    (
        "Порыв устранён.",
        {REASON_NO_TERM, REASON_NO_RESPONSIBLE},
    ),
]


@pytest.mark.parametrize("text", GOOD_ANSWERS)
def test_a_concrete_answer_is_not_flagged(text: str) -> None:
    check = check_formal_reply(text, previous_answers=[])
    assert not check.flagged, check.reasons
    assert check.reasons == []


@pytest.mark.parametrize(("text", "missing"), FORMAL_ANSWERS)
def test_a_formal_reply_is_flagged_with_what_is_missing(text: str, missing: set[str]) -> None:
    check = check_formal_reply(text, previous_answers=[])
    assert check.flagged
    named = {
        reason
        for reason in check.reasons
        if reason in (REASON_NO_ACTION, REASON_NO_TERM, REASON_NO_RESPONSIBLE)
    }
    assert named == missing


def test_stock_phrases_are_named_when_flagged() -> None:
    check = check_formal_reply(
        "Информация принята к сведению, вопрос будет рассмотрен.", previous_answers=[]
    )
    assert any("«принято к сведению»" in r or "«будет рассмотрен»" in r for r in check.reasons)


TEMPLATE = (
    "Уважаемый заявитель! Ваше обращение по вопросу ремонта дороги по адресу ул. {street} "
    "рассмотрено. Ремонт будет выполнен подрядной организацией ООО «Дорстрой» до 30 июня 2026 года "
    "в рамках муниципальной программы содержания автомобильных дорог общего пользования."
)


def test_a_reused_template_is_flagged_even_if_otherwise_complete() -> None:
    earlier = TEMPLATE.format(street="Ленина")
    check = check_formal_reply(TEMPLATE.format(street="Советская"), previous_answers=[earlier])
    assert check.flagged
    assert any(reason.startswith("повтор шаблона") for reason in check.reasons)
    alone = check_formal_reply(TEMPLATE.format(street="Советская"), previous_answers=[])
    assert not alone.flagged


def test_a_different_answer_of_the_same_department_is_not_a_template() -> None:
    previous = [GOOD_ANSWERS[0], GOOD_ANSWERS[3]]
    check = check_formal_reply(GOOD_ANSWERS[1], previous_answers=previous)
    assert not check.flagged


def test_an_empty_answer_is_flagged() -> None:
    check = check_formal_reply("   ", previous_answers=["   "])
    assert check.flagged and len(check.reasons) == 3
