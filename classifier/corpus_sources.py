"""Readers for the shared labelled datasets: each yields (text, source label, urgent)."""

from __future__ import annotations

import csv
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

# Some appeals exceed the default 128 KiB field limit of the csv module.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

MAPPINGS_DIR = Path(__file__).parent / "data" / "mappings"
HANDWRITTEN_CSV = Path(__file__).parent / "data" / "handwritten.csv"
# Later hand-written batches live in their own files so that adding one leaves the
# train/test split of the earlier rows untouched (see corpus.assign_split).
HANDWRITTEN_FILES = (HANDWRITTEN_CSV, Path(__file__).parent / "data" / "handwritten_more.csv")
_PORTAL_TAIL = re.compile(r"\s*Создание ссылки\s*$")
_TRUE = {"1", "true", "yes", "да", "y", "t"}
_FALSE = {"0", "false", "no", "нет", "n", "f"}


@dataclass(frozen=True)
class SourceRow:
    """One labelled message as read from a dataset, before mapping to a block."""

    text: str
    label: str
    urgent: bool | None = None


@dataclass(frozen=True)
class Mapping:
    """A source-label → block table; block None means the label is dropped."""

    blocks: dict[str, str | None]

    def lookup(self, *keys: str) -> tuple[bool, str | None]:
        """(found, block) for the first key present in the table."""
        for key in keys:
            if key in self.blocks:
                return True, self.blocks[key]
        return False, None


def load_mapping(path: Path) -> Mapping:
    """Read a mapping CSV with columns label,block,note."""
    with path.open(encoding="utf-8", newline="") as fh:
        table = {row["label"]: (row["block"].strip() or None) for row in csv.DictReader(fh)}
    return Mapping(table)


def parse_urgent(value: str | None) -> bool | None:
    """Parse a yes/no cell; None when empty or unrecognised."""
    v = (value or "").strip().lower()
    return True if v in _TRUE else False if v in _FALSE else None


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        yield from csv.DictReader(fh)


def read_spb(root: Path) -> Iterator[SourceRow]:
    """«Наш Санкт-Петербург»: the label is "category | reason"."""
    for row in _rows(root / "spb-our-petersburg" / "spb_our_petersburg_2020_2021.csv"):
        text = row["text"].replace("[скрыто]", " ")
        yield SourceRow(text, f"{row['category']} | {row['reason']}")


def read_kursk(root: Path) -> Iterator[SourceRow]:
    """Kursk ПОС (train and test, HTML already stripped): the label is the topic."""
    for row in _rows(root / "kursk-pos-2022" / "kursk_all_derived.csv"):
        yield SourceRow(row["text_plain"], row["Тематика"])


def read_cheboksary(root: Path) -> Iterator[SourceRow]:
    """«Народный контроль»: title + text; label "category | body", falling back to category."""
    path = root / "cheboksary-narodny-kontrol-2021" / "cheboksary_narodny_kontrol_appeals.csv"
    for row in _rows(path):
        body = _PORTAL_TAIL.sub("", row["Текст обращения"])
        title = row["Тематика обращения"].strip()
        text = f"{title}. {body}" if title and title.lower() not in body.lower() else body
        yield SourceRow(text, f"{row['Категория']} | {row['Муниципалитет '].strip()}")


def read_handwritten(path: Path) -> Iterator[SourceRow]:
    """Hand-written examples: the label is the block code itself."""
    if not path.is_file():
        return
    for row in _rows(path):
        yield SourceRow(
            row.get("text", ""), row.get("block", "").strip(), parse_urgent(row.get("urgent"))
        )


def label_keys(source: str, label: str) -> tuple[str, ...]:
    """Keys to try in the mapping table, most specific first."""
    if source == "cheboksary":
        return (label, label.split(" | ", 1)[0])
    return (label,)


READERS: dict[str, Callable[[Path], Iterator[SourceRow]]] = {
    "spb": read_spb,
    "kursk": read_kursk,
    "cheboksary": read_cheboksary,
}
