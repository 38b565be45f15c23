"""The 12-week trend in the reports: the «Динамика» sheet with its chart, and the PDF page."""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path

import pytest
from openpyxl import load_workbook

from rating.report import DEFAULT_FONT_DIR, write_pdf, write_xlsx
from rating.report_trend import TREND_TITLE
from rating.trend import Trend, TrendLine, runs
from tests.unit.rating.test_report import _result

WEEKS = tuple(f"2026-W{n}" for n in range(36, 48))


def _trend() -> Trend:
    """d0: a gap in W40 and a lone W47; d1: values only W44–W45; «empty»: never placed."""
    d0 = [70.0, 71.5, 72.0, 73.0, None, 75.0, 76.0, 77.0, 78.0, 79.0, None, 81.26]
    d1 = (None, None, None, None, None, None, None, None, 55.0, 0.0, None, None)
    return Trend(
        weeks=WEEKS,
        published=(True,) * 10 + (False, False),
        lines=(
            TrendLine("empty", "Отдел культуры и спорта", (None,) * 12, (None,) * 12),
            TrendLine("d0", "Отдел ЖКХ", tuple(d0), tuple(1 if v else None for v in d0)),
            TrendLine("d1", "Комитет по управлению муниципальным имуществом", tuple(d1),
                      tuple(2 if v is not None else None for v in d1)),
        ),
    )  # fmt: skip


def test_xlsx_trend_sheet_has_weeks_by_departments_with_blank_gaps(tmp_path: Path) -> None:
    result = _result()
    path = write_xlsx(result, tmp_path / "rating.xlsx", trend=_trend())
    book = load_workbook(path)
    assert book.sheetnames[-1] == "Динамика"
    sheet = book["Динамика"]
    header = [cell.value for cell in sheet[1]]
    # Departments in the week's ranking order (d0 and d1 first), then the rest by name.
    ranking = [u.key for u in result.units]
    assert ranking.index("d0") < ranking.index("empty")
    assert header[:3] == ["Неделя", "Даты", "Статус недели"]
    assert set(header[3:]) == {"Отдел ЖКХ", "Комитет по управлению муниципальным имуществом",
                               "Отдел культуры и спорта"}  # fmt: skip
    assert header[-1] == "Отдел культуры и спорта"
    column = {name: index for index, name in enumerate(header)}
    rows = list(sheet.iter_rows(min_row=2, max_row=13, values_only=True))
    assert [row[0] for row in rows] == list(WEEKS)
    assert rows[0][1] == "31.08–06.09.2026" and rows[-1][1] == "16.11–22.11.2026"
    assert [row[2] for row in rows[9:]] == ["опубликована", "предварительно", "предварительно"]
    gkh = [row[column["Отдел ЖКХ"]] for row in rows]
    assert gkh[4] is None and gkh[10] is None  # empty cells: a gap, not a zero
    assert gkh[1] == 71.5 and gkh[11] == 81.3  # rounded to 0.1 like the page
    kumi = [row[column["Комитет по управлению муниципальным имуществом"]] for row in rows]
    assert kumi[8:10] == [55.0, 0.0]  # a real zero stays a zero
    assert all(row[column["Отдел культуры и спорта"]] is None for row in rows)
    assert sheet.cell(row=2, column=4).number_format == "0.0"
    assert len(sheet._charts) == 1


def test_xlsx_trend_chart_is_a_line_chart_with_gaps_and_a_fixed_axis(tmp_path: Path) -> None:
    path = write_xlsx(_result(), tmp_path / "rating.xlsx", trend=_trend())
    with zipfile.ZipFile(path) as archive:
        charts = [n for n in archive.namelist() if n.startswith("xl/charts/chart")]
        assert len(charts) == 1
        xml = archive.read(charts[0]).decode("utf-8")
    assert "<lineChart>" in xml and xml.count("<ser>") == 3
    assert '<dispBlanksAs val="gap"' in xml
    assert '<max val="100"' in xml and '<min val="0"' in xml
    assert "'Динамика'!$A$2:$A$13" in xml  # the weeks are the categories
    assert TREND_TITLE in xml


def test_xlsx_without_trend_keeps_the_five_sheets(tmp_path: Path) -> None:
    book = load_workbook(write_xlsx(_result(), tmp_path / "plain.xlsx"))
    assert "Динамика" not in book.sheetnames


def _pdf_parts(data: bytes) -> tuple[int, bytes, list[str]]:
    """(pages, all decompressed content, outline titles)."""
    pages = len(re.findall(rb"/Type\s*/Page(?![s\w])", data))
    content = b"".join(
        zlib.decompress(m.group(1))
        for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S)
        if m.group(1)[:1] == b"x"
    )
    titles = [
        bytes.fromhex(m.group(1).decode()).decode("utf-16")
        for m in re.finditer(rb"/Title\s*<([0-9a-fA-F]+)>", data)
    ]
    return pages, content, titles


POLYLINE = re.compile(rb"m\n(?:[-\d.]+ [-\d.]+ l\n)+ S")


def test_pdf_gets_a_trend_page_with_one_polyline_per_unbroken_run(tmp_path: Path) -> None:
    if not (DEFAULT_FONT_DIR / "DejaVuSans.ttf").is_file():
        pytest.skip("fonts-dejavu-core is not installed")
    plain = write_pdf(_result(), tmp_path / "plain.pdf").read_bytes()
    with_trend = write_pdf(_result(), tmp_path / "trend.pdf", trend=_trend()).read_bytes()
    pages_before, content_before, _ = _pdf_parts(plain)
    pages, content, titles = _pdf_parts(with_trend)
    assert pages == pages_before + 1
    assert TREND_TITLE in titles
    assert POLYLINE.findall(content_before) == []
    # d0: runs W36–W39 and W41–W45 are lines; the lone W47 is a marker only; d1: W44–W45.
    expected = sum(len(run) > 1 for line in _trend().lines for run in runs(line.index))
    assert expected == 3 and len(POLYLINE.findall(content)) == expected


def test_pdf_trend_flows_onto_more_pages_for_many_departments(tmp_path: Path) -> None:
    if not (DEFAULT_FONT_DIR / "DejaVuSans.ttf").is_file():
        pytest.skip("fonts-dejavu-core is not installed")
    values = tuple(float(40 + i) for i in range(12))
    many = Trend(
        weeks=WEEKS,
        published=(True,) * 12,
        lines=tuple(TrendLine(f"d{i}", f"Отдел {i}", values, (1,) * 12) for i in range(40)),
    )
    pages_one, _, _ = _pdf_parts(
        write_pdf(_result(), tmp_path / "a.pdf", trend=_trend()).read_bytes()
    )
    pages, content, _ = _pdf_parts(
        write_pdf(_result(), tmp_path / "b.pdf", trend=many).read_bytes()
    )
    assert pages >= pages_one + 2  # 40 small charts do not fit on one page
    assert len(POLYLINE.findall(content)) == 40
