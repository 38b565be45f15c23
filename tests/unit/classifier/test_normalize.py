"""Normalisation of what really arrives from portals, VK and Telegram."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.normalize import (
    fix_lookalikes,
    lemma,
    lemma_text,
    lemmas,
    mask_personal_data,
    normalize,
    strip_markup,
    tokenize,
)


def test_html_tags_and_entities_are_removed() -> None:
    assert normalize("<p>Нет&nbsp;воды&hellip;</p><br>Дом&nbsp;5") == "нет воды…\nдом 5"


def test_vk_mention_keeps_display_text() -> None:
    assert normalize("[club123|Администрация района], когда починят?") == (
        "администрация района, когда починят?"
    )


def test_url_email_and_phone_are_masked() -> None:
    text = "Пишите ivan@mail.ru, https://vk.com/wall-1_2, звоните +7 (914) 123-45-67 или 22-33-44"
    assert normalize(text) == "пишите <email> , <url> , звоните <phone> или <phone>"


def test_emoji_are_removed() -> None:
    assert normalize("Опять нет света 😡😡👎") == "опять нет света"


def test_hashtags_become_words() -> None:
    assert normalize("#нетводы #НетСвета #Амурзет") == "нет воды нет света амурзет"


def test_stretched_letters_are_squeezed() -> None:
    assert normalize("ооочень плохааая дорога!!!") == "очень плохая дорога!!!"


def test_yo_becomes_ye() -> None:
    assert normalize("Ещё всё тёмно") == "еще все темно"


def test_caps_are_lowercased() -> None:
    assert normalize("ДОРОГУ НЕ ЧИСТЯТ") == "дорогу не чистят"


def test_latin_lookalikes_inside_cyrillic_words() -> None:
    assert fix_lookalikes("Пpивeт, ДOPOГA") == "Привет, ДОРОГА"
    assert normalize("тpактоp") == "трактор"


def test_latin_words_are_left_alone() -> None:
    assert fix_lookalikes("WhatsApp и Telegram") == "WhatsApp и Telegram"


def test_common_typos_are_fixed() -> None:
    text = "щас ваще сдесь надо зделать калидор"
    assert normalize(text) == "сейчас вообще здесь надо сделать коридор"


def test_tokens_and_lemmas() -> None:
    normalized = normalize("Нет воды на улицах, звоните 89141234567")
    assert tokenize(normalized) == ["нет", "воды", "на", "улицах", "звоните", "<phone>"]
    assert lemmas(normalized) == ["нет", "вода", "на", "улица", "звонить", "<phone>"]
    assert lemma_text("дороги разбиты") == "дорога разбитый"


def test_lemma_cache_is_bounded() -> None:
    lemma("дороги")
    info = lemma.cache_info()
    assert info.maxsize is not None and info.maxsize > 0


def test_personal_data_masking_for_corpus() -> None:
    text = "Иванов И.И. и Петров Пётр Сергеевич, тел. 8-914-123-45-67"
    assert mask_personal_data(text) == "<name> и <name>, тел. <phone>"


def test_strip_markup_drops_nul_and_surrogates() -> None:
    assert strip_markup("a\x00b\ud800c") == "a bc"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_normalize_never_fails_and_returns_clean_text(text: str) -> None:
    out = normalize(text)
    assert isinstance(out, str)
    assert "\x00" not in out
    out.encode("utf-8")  # no lone surrogates left
