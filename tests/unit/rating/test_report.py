"""XLSX and PDF reports open, have the expected parts and embed a Cyrillic font."""

from __future__ import annotations

import re
import zlib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from rating.report import DEFAULT_FONT_DIR, ReportFontError, write_pdf, write_xlsx
from rating.scoring import (
    Counts,
    RatingConfig,
    RatingResult,
    UnitInput,
    apply_previous_ranks,
    score_units,
)

CONFIG = RatingConfig(volume=0.2, speed=0.4, completeness=0.4)
NAMES = ["Отдел ЖКХ", "Комитет по управлению муниципальным имуществом", "Отдел культуры"]


def _result(extra_units: int = 0) -> RatingResult:
    inputs = [
        UnitInput(
            key=f"d{i}",
            name=NAMES[i % 3] + ("" if i < 3 else f" {i}"),
            counts=Counts(
                received=5 + i,
                workload=6 + i,
                overdue_open=i % 3,
                judged=5,
                on_time=5 - i % 4,
                decided=4,
                merits=4 - i % 3,
                answers=6,
                formal_answers=i % 2,
                verdict_yes=2,
                verdict_no=i % 2,
            ),
            answer_hours=(1.5, 3.0 + i),
        )
        for i in range(2 + extra_units)
    ]
    inputs.append(UnitInput(key="empty", name="Отдел культуры и спорта", counts=Counts()))
    units = apply_previous_ranks(units=score_units(units=inputs, config=CONFIG), previous={"d0": 2})
    return RatingResult(
        week="2026-W47",
        timezone="Asia/Vladivostok",
        start=datetime(2026, 11, 15, 14, tzinfo=UTC),
        end=datetime(2026, 11, 22, 14, tzinfo=UTC),
        as_of=datetime(2026, 11, 22, 14, tzinfo=UTC),
        computed_at=datetime(2026, 11, 22, 23, tzinfo=UTC),
        config=CONFIG,
        units=tuple(units),
        blocks=tuple(units[:1]),
    )


def test_xlsx_has_the_sheets_headers_and_formats(tmp_path: Path) -> None:
    path = write_xlsx(_result(), tmp_path / "rating.xlsx")
    book = load_workbook(path)
    assert book.sheetnames == ["Сводка", "Объём", "Скорость", "Полнота", "Данные"]
    summary = book["Сводка"]
    header = [cell.value for cell in summary[1]]
    assert header[:3] == ["Место", "Отдел", "Индекс"]
    assert summary["A1"].font.bold and summary.freeze_panes == "A2"
    assert summary["B2"].value in NAMES and summary["A2"].value == 1
    assert summary["C2"].number_format == "0.0"
    assert summary.column_dimensions["B"].width == 48
    assert summary["A4"].value is None and summary["L4"].value == "недостаточно данных"
    speed = book["Скорость"]
    assert speed["D1"].value == "Доля в срок" and speed["D2"].number_format == "0.0%"
    assert book["Полнота"].freeze_panes == "A2"
    raw = book["Данные"]
    assert [raw.cell(row=r, column=1).value for r in range(2, 6)] == ["отдел"] * 3 + ["блок"]


def _pages(data: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", data))


def test_pdf_is_a4_with_embedded_cyrillic_font(tmp_path: Path) -> None:
    if not (DEFAULT_FONT_DIR / "DejaVuSans.ttf").is_file():
        pytest.skip("fonts-dejavu-core is not installed")
    data = write_pdf(_result(), tmp_path / "rating.pdf").read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert _pages(data) == 1
    assert b"/FontFile2" in data and b"DejaVuSans" in data
    assert re.search(rb"/MediaBox\s*\[\s*0(\.0+)?\s+0(\.0+)?\s+595\.28", data)
    texts = b"".join(
        zlib.decompress(m.group(1))
        for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S)
        if m.group(1)[:1] == b"x"
    )
    assert texts.count(b" re f") == 2  # one filled bar per ranked department


def test_long_pdf_flows_onto_more_pages(tmp_path: Path) -> None:
    if not (DEFAULT_FONT_DIR / "DejaVuSans.ttf").is_file():
        pytest.skip("fonts-dejavu-core is not installed")
    data = write_pdf(_result(extra_units=40), tmp_path / "long.pdf").read_bytes()
    assert _pages(data) >= 2


def test_missing_font_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReportFontError, match="fonts-dejavu-core"):
        write_pdf(_result(), tmp_path / "x.pdf", font_dir=tmp_path)
    assert not (tmp_path / "x.pdf").exists()


def test_unpublished_and_published_status_lines(tmp_path: Path) -> None:
    result = replace(_result(), published_at=datetime(2026, 11, 23, 0, tzinfo=UTC))
    book = load_workbook(write_xlsx(result, tmp_path / "p.xlsx"))
    lines = [row[0].value for row in book["Сводка"].iter_rows(min_row=5) if row[0].value]
    assert any(str(v).startswith("Опубликовано 23.11.2026 10:00") for v in lines)
