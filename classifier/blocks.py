"""Sector blocks: the default rubricator and loading it from configuration."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

# The 13 codes of BLOCKS.md; used when config/municipality.yaml names no blocks.
DEFAULT_BLOCKS: tuple[tuple[str, str], ...] = (
    ("roads", "Дорожная деятельность"),
    ("housing", "Жилищно-коммунальное хозяйство"),
    ("energy", "Энергетика"),
    ("waste", "Обращение с ТКО"),
    ("transport", "Транспорт"),
    ("construction", "Строительство"),
    ("economy", "Экономика"),
    ("consumer", "Потребительский рынок"),
    ("agriculture", "Сельское хозяйство"),
    ("property", "Муниципальное имущество"),
    ("social", "Социальная сфера"),
    ("emergency", "ГО и ЧС"),
    ("other", "—"),
)
DEFAULT_BLOCK_CODES: tuple[str, ...] = tuple(code for code, _ in DEFAULT_BLOCKS)
NOISE_BLOCK = "other"
EMERGENCY_BLOCK = "emergency"


def blocks_from_mapping(data: Mapping[str, Any] | None) -> list[str]:
    """Block codes from a parsed municipality.yaml, or the defaults."""
    raw = (data or {}).get("blocks")
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        return list(DEFAULT_BLOCK_CODES)
    codes: list[str] = []
    for item in raw:
        code = item.get("code") if isinstance(item, Mapping) else item
        if isinstance(code, str) and code.strip() and code.strip() not in codes:
            codes.append(code.strip())
    return codes or list(DEFAULT_BLOCK_CODES)


def load_blocks(path: Path | None) -> list[str]:
    """Block codes from config/municipality.yaml when it exists, else the defaults."""
    if path is None or not path.is_file():
        return list(DEFAULT_BLOCK_CODES)
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    return blocks_from_mapping(data if isinstance(data, Mapping) else None)
