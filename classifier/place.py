"""Place extraction (settlement, street, house) with the municipality's gazetteer."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from classifier.inflect import name_forms

_SETTLEMENT_KIND = (
    r"(?:с\.|с|село|селе|села|селу|пос\.|п\.|поселок|поселке|поселка|поселку|пгт\.?|д\.|дер\.?"
    r"|деревня|деревне|деревни|деревню|г\.|город|городе|города|ст\.|станция|станции|х\.|хутор\w*)"
)
_STREET_KIND = (
    r"(?:ул\.?|улиц[аеуы]|улицей|пер\.?|переул\w*|пр-к?т\.?|просп\.?|проспект\w*|пл\.|площад\w*"
    r"|б-р|бульвар\w*|ш\.|шоссе|наб\.?|набережн\w*|мкр\.?|микрорайон\w*|проезд\w*|туп\.?"
    r"|тупик\w*|кв-л|квартал\w*)"
)
_PREPOSITION_BEFORE = re.compile(r"(?:^|[\s(«\"])(?:на|по|в|во|из|до|у|под|около|возле|с|от)\s+$")
_HOUSE = re.compile(
    r"\s*,?\s*(?:(?:д\.|дом[ау]?|д)\s*)?(?:№\s*)?"
    # A letter right after the number is a house letter («15а»); after a space only when
    # nothing follows, so the preposition in «Ленина 15 в Амурзете» stays out of the house.
    r"(?P<house>\d{1,4}(?:[а-яa-z](?![а-яa-z\d])|\s[а-яa-z](?=\s*(?:[,.;:)!?»\"]|$)))?"
    r"(?:\s?/\s?\d{1,4}[а-я]?)?)(?![\d])"
)


@dataclass(frozen=True)
class Match:
    """A recognised value and its character span in the original text."""

    value: str
    start: int
    end: int


@dataclass(frozen=True)
class Place:
    """Where a message is about; each part is None when it was not recognised."""

    settlement: Match | None = None
    street: Match | None = None
    house: Match | None = None

    def to_dict(self) -> dict[str, str | None]:
        """JSON-ready values only."""
        return {
            "settlement": self.settlement.value if self.settlement else None,
            "street": self.street.value if self.street else None,
            "house": self.house.value if self.house else None,
        }


def fold(text: str) -> str:
    """Lowercase and ё→е without changing the length, so spans map to the original text."""
    out = text.lower().replace("ё", "е")
    if len(out) == len(text):
        return out
    return "".join(low if len(low := ch.lower()) == 1 else ch for ch in text).replace("ё", "е")


def _alternation(forms: Iterable[str]) -> str:
    return "|".join(re.escape(f) for f in sorted(set(forms), key=len, reverse=True))


@dataclass(frozen=True)
class _Table:
    """Compiled regex over all forms and the canonical name + ambiguity flag per form."""

    regex: re.Pattern[str] | None
    canonical: dict[str, str]
    common: frozenset[str]

    @classmethod
    def build(cls, names: Mapping[str, Sequence[str]], *, kind: str) -> _Table:
        canonical: dict[str, str] = {}
        common: set[str] = set()
        for name, aliases in names.items():
            for variant in (name, *aliases):
                forms, ambiguous = name_forms(variant)
                for form in forms:
                    canonical.setdefault(form, name)
                common |= ambiguous
        if not canonical:
            return cls(None, {}, frozenset())
        pattern = (
            rf"(?<![\w-])(?:(?P<kind>{kind})(?:(?<=\.)\s*|\s+))?"
            rf"(?P<name>{_alternation(canonical)})(?![\w-])"
            rf"(?:\s+(?P<kind_after>{kind})(?![\w-]))?"
        )
        return cls(re.compile(pattern), canonical, frozenset(common))


class Gazetteer:
    """Known settlements and streets of the municipality, compiled for fast matching."""

    def __init__(self, settlements: Mapping[str, Sequence[str]], streets: Iterable[str]) -> None:
        self._settlements = _Table.build(settlements, kind=_SETTLEMENT_KIND)
        self._streets = _Table.build({s: () for s in streets}, kind=_STREET_KIND)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Gazetteer:
        """Build from the parsed gazetteer.yaml structure."""
        settlements: dict[str, list[str]] = {}
        streets: list[str] = []
        for item in data.get("settlements") or []:
            name = str(item.get("name") or "").strip()
            if not name:
                continue
            settlements[name] = [str(a) for a in item.get("aliases") or [] if a]
            streets.extend(str(s.get("name") or "").strip() for s in item.get("streets") or [])
        return cls(settlements, [s for s in dict.fromkeys(streets) if s])

    @classmethod
    def from_yaml(cls, path: Path) -> Gazetteer:
        """Load config/gazetteer.yaml (an empty gazetteer if the file is missing)."""
        if not path.is_file():
            return cls({}, [])
        with path.open(encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        return cls.from_mapping(data if isinstance(data, Mapping) else {})

    def find_streets(self, text: str, folded: str) -> tuple[Match | None, Match | None]:
        """First street that is certainly a street here, and the house number after it."""
        table = self._streets
        if table.regex is None:
            return None, None
        for m in table.regex.finditer(folded):
            house = _HOUSE.match(folded, m.end())
            name_start = m.start("name")
            has_kind = bool(m.group("kind") or m.group("kind_after"))
            if not (has_kind or house) and not _PREPOSITION_BEFORE.search(folded, 0, name_start):
                continue
            if not has_kind and not _looks_proper(text, name_start, m.group("name"), table):
                continue
            street = Match(table.canonical[m.group("name")], m.start(), m.end())
            if house is None:
                return street, None
            return street, Match(house.group("house"), house.start("house"), house.end("house"))
        return None, None

    def find_settlement(self, text: str, folded: str, *, skip: Match | None) -> Match | None:
        """First settlement mention outside the street span."""
        table = self._settlements
        if table.regex is None:
            return None
        for m in table.regex.finditer(folded):
            if skip is not None and m.start("name") < skip.end and skip.start < m.end():
                continue
            kind = m.group("kind")
            name = m.group("name")
            if kind in (None, "с") and not _looks_proper(text, m.start("name"), name, table):
                continue
            return Match(table.canonical[name], m.start(), m.end())
        return None


def _looks_proper(text: str, start: int, form: str, table: _Table) -> bool:
    # Forms that are also common words («полевом», «советской») need a capital letter.
    return form not in table.common or text[start : start + 1].isupper()


def extract_place(text: str, gazetteer: Gazetteer) -> Place:
    """Settlement, street and house mentioned in a message, with spans into the text."""
    if not isinstance(text, str) or not text:
        return Place()
    folded = fold(text)
    street, house = gazetteer.find_streets(text, folded)
    settlement = gazetteer.find_settlement(text, folded, skip=street)
    return Place(settlement, street, house)
