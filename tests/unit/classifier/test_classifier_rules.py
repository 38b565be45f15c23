"""Urgency lexicon, input quality checks and block configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.blocks import DEFAULT_BLOCK_CODES, blocks_from_mapping, load_blocks
from classifier.normalize import normalize
from classifier.quality import check_text
from classifier.urgency import urgent_rules


@pytest.mark.parametrize(
    "text",
    [
        "Нет света во всём селе!",
        "нет отопления",
        "На улице −35 и батареи холодные",
        "Нет воды вторые сутки на всей улице",
        "Оборван провод, лежит на земле, дети ходят",
        "Пожар в доме 5!",
        "Сосульки висят над входом в школу",
        "угроза жизни: открыт люк у остановки",
    ],
)
def test_urgent_lexicon_fires(text: str) -> None:
    assert urgent_rules(normalize(text))


@pytest.mark.parametrize(
    "text",
    ["яма на дороге", "не горят фонари", "горит свет в подъезде днём", "прошу поставить лавочку"],
)
def test_urgent_lexicon_stays_quiet(text: str) -> None:
    assert urgent_rules(normalize(text)) == []


def test_quality_accepts_russian() -> None:
    assert check_text(normalize("Нет воды на Ленина 5")) == []


def test_quality_flags_keyboard_noise() -> None:
    assert check_text(normalize("фывапролджэ ячсмитьбю")) == ["junk_text"]


def test_blocks_default_without_config(tmp_path: Path) -> None:
    assert load_blocks(tmp_path / "missing.yaml") == list(DEFAULT_BLOCK_CODES)
    assert len(DEFAULT_BLOCK_CODES) == 13


def test_blocks_from_municipality_yaml(tmp_path: Path) -> None:
    path = tmp_path / "municipality.yaml"
    path.write_text(
        "blocks:\n  - {code: roads, name: Дороги}\n  - {code: fishing, name: Рыболовство}\n",
        encoding="utf-8",
    )
    assert load_blocks(path) == ["roads", "fishing"]
    assert blocks_from_mapping({"blocks": []}) == list(DEFAULT_BLOCK_CODES)
