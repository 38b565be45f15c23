"""The head's weekly report: XLSX (openpyxl) and PDF (fpdf2, charts drawn with primitives).

Given a ``Trend``, both also carry the 12-week dynamics (``rating.report_trend``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fpdf import FPDF
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from core.errors import AppError
from rating.report_trend import add_trend_sheet, draw_trend_pages, fit_text
from rating.scoring import STATUS_TEXT, Counts, RatingResult, UnitScore, movers
from rating.serialize import period_text
from rating.trend import Trend

__all__ = ["DEFAULT_FONT_DIR", "ReportFontError", "write_pdf", "write_xlsx"]

DEFAULT_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
PCT, POINTS, HOURS, INT = "0.0%", "0.0", "0.0", "0"


class ReportFontError(AppError):
    """The Cyrillic TTF font for the PDF is not installed."""

    status_code = 500


@dataclass(frozen=True, slots=True)
class Column:
    """One spreadsheet column: header, width in characters, number format, value."""

    header: str
    width: float
    fmt: str | None
    value: Callable[[UnitScore], Any]


def _pts(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def _ranked(value: Callable[[UnitScore], float | None]) -> Callable[[UnitScore], Any]:
    """A criterion score shown only for units with a place in the ranking."""
    return lambda u: _pts(value(u)) if u.index is not None else None


NAME = Column("Отдел", 48, None, lambda u: u.name)
SUMMARY = (
    Column("Место", 8, INT, lambda u: u.rank),
    NAME,
    Column("Индекс", 10, POINTS, lambda u: None if u.index is None else round(u.index, 1)),
    Column("Индекс от (90%)", 14, POINTS, lambda u: u.index_low and round(u.index_low, 1)),
    Column("Индекс до (90%)", 14, POINTS, lambda u: u.index_high and round(u.index_high, 1)),
    Column("Объём", 9, POINTS, _ranked(lambda u: u.volume.estimate)),
    Column("Скорость", 10, POINTS, _ranked(lambda u: u.speed.estimate)),
    Column("Полнота", 10, POINTS, _ranked(lambda u: u.completeness.estimate)),
    Column("Инцидентов в работе", 12, INT, lambda u: u.counts.workload),
    Column("Место неделей ранее", 12, INT, lambda u: u.previous_rank),
    Column("Изменение места", 12, "+0;-0;0", lambda u: u.rank_change),
    Column("Статус", 22, None, lambda u: STATUS_TEXT[u.status]),
)
VOLUME = (
    NAME,
    Column("Поступило инцидентов", 12, INT, lambda u: u.counts.received),
    Column("Сообщений", 11, INT, lambda u: u.counts.messages),
    Column("В работе за неделю", 12, INT, lambda u: u.counts.workload),
    Column("Просрочено и открыто на конец", 14, INT, lambda u: u.counts.overdue_open),
    Column("Закрыто с опозданием", 12, INT, lambda u: u.counts.late_decided),
    Column("Доля без просрочки", 12, PCT, lambda u: u.volume.raw),
    Column("Балл объёма", 10, POINTS, _ranked(lambda u: u.volume.estimate)),
    Column("от (90%)", 9, POINTS, _ranked(lambda u: u.volume.low)),
    Column("до (90%)", 9, POINTS, _ranked(lambda u: u.volume.high)),
)
SPEED = (
    NAME,
    Column("Оценено по сроку", 12, INT, lambda u: u.counts.judged),
    Column("Ответ в срок", 10, INT, lambda u: u.counts.on_time),
    Column("Доля в срок", 10, PCT, lambda u: u.speed.raw),
    Column("Балл скорости", 10, POINTS, _ranked(lambda u: u.speed.estimate)),
    Column("от (90%)", 9, POINTS, _ranked(lambda u: u.speed.low)),
    Column("до (90%)", 9, POINTS, _ranked(lambda u: u.speed.high)),
    Column("Медиана первого ответа, раб. ч", 14, HOURS, lambda u: u.median_hours),
    Column("90-й процентиль, раб. ч", 12, HOURS, lambda u: u.p90_hours),
)
COMPLETENESS = (
    NAME,
    Column("Завершено за неделю", 12, INT, lambda u: u.counts.decided),
    Column("Решено по существу", 12, INT, lambda u: u.counts.merits),
    Column("Доля по существу", 11, PCT, lambda u: u.completeness.raw),
    Column("Балл полноты", 10, POINTS, _ranked(lambda u: u.completeness.estimate)),
    Column("от (90%)", 9, POINTS, _ranked(lambda u: u.completeness.low)),
    Column("до (90%)", 9, POINTS, _ranked(lambda u: u.completeness.high)),
    Column("Отклонено", 10, INT, lambda u: u.counts.rejected),
    Column("Доля переоткрытых", 11, PCT, lambda u: u.reopen_rate),
    Column("Оценка «да»", 9, INT, lambda u: u.counts.verdict_yes),
    Column("«частично»", 10, INT, lambda u: u.counts.verdict_partial),
    Column("«нет»", 7, INT, lambda u: u.counts.verdict_no),
    Column("Доля отписок", 10, PCT, lambda u: u.formal_share),
)
_RAW_FIELDS = tuple(f.name for f in fields(Counts))
RAW = (
    Column("Код", 16, None, lambda u: u.key),
    Column("Название", 40, None, lambda u: u.name),
    *(Column(name, 12, INT, attrgetter(f"counts.{name}")) for name in _RAW_FIELDS),
    Column("median_hours", 12, "0.00", lambda u: u.median_hours),
    Column("p90_hours", 12, "0.00", lambda u: u.p90_hours),
    Column("index", 10, "0.00", lambda u: u.index),
    Column("rank", 8, INT, lambda u: u.rank),
)


def _fill_sheet(
    sheet: Worksheet, *, columns: Sequence[Column], rows: Sequence[UnitScore], lead: str = ""
) -> None:
    """Header (bold, wrapped, frozen), rows with number formats, column widths."""
    if lead:
        columns = (Column("Уровень", 10, None, lambda u: lead), *columns)
    sheet.append([column.header for column in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        cell.fill = PatternFill("solid", fgColor="DDE5F0")
    for unit in rows:
        sheet.append([column.value(unit) for column in columns])
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = column.width
        if column.fmt:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = column.fmt
    sheet.freeze_panes = "A2"


def write_xlsx(result: RatingResult, path: Path | str, *, trend: Trend | None = None) -> Path:
    """Write the ranking workbook: «Сводка», «Объём», «Скорость», «Полнота», «Данные» and,
    with ``trend``, «Динамика»."""
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "Сводка"
    _fill_sheet(summary, columns=SUMMARY, rows=result.units)
    summary.append([])
    summary.append([f"Неделя {result.week}: {period_text(result)} ({result.timezone})"])
    summary.append([_status_line(result)])
    for title, columns in (("Объём", VOLUME), ("Скорость", SPEED), ("Полнота", COMPLETENESS)):
        _fill_sheet(book.create_sheet(title), columns=columns, rows=result.units)
    raw = book.create_sheet("Данные")
    _fill_sheet(raw, columns=RAW, rows=result.units, lead="отдел")
    for unit in result.blocks:
        raw.append(["блок", *(column.value(unit) for column in RAW)])
    if trend is not None:
        add_trend_sheet(book, trend, order=[unit.key for unit in result.units])
    target = Path(path)
    book.save(target)
    return target


def _status_line(result: RatingResult) -> str:
    """«Опубликовано …» or «Черновик …» with the data cut-off, in local time."""
    zone = ZoneInfo(result.timezone)
    stamp = (result.published_at or result.computed_at).astimezone(zone)
    as_of = result.as_of.astimezone(zone)
    word = "Опубликовано" if result.published_at else "Черновик, рассчитан"
    return f"{word} {stamp:%d.%m.%Y %H:%M}; данные на {as_of:%d.%m.%Y %H:%M} (местное время)"


def _font_paths(font_dir: Path) -> dict[str, Path]:
    """Regular and bold DejaVu Sans, or a clear error naming the package to install."""
    paths = {style: font_dir / name for style, name in FONT_FILES.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise ReportFontError(
            "не найден шрифт с кириллицей для PDF: "
            + ", ".join(missing)
            + " — установите пакет fonts-dejavu-core (apt-get install fonts-dejavu-core)"
        )
    return paths


def _fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _pdf_table(pdf: FPDF, result: RatingResult) -> None:
    """The ranking table; units without a place close it, marked «н/д»."""
    headers = ("Место", "Отдел", "Индекс", "90% интервал", "Объём", "Скор.", "Полн.", "Инц.", "Δ")
    widths = (13, 66, 15, 22, 14, 14, 14, 13, 12)
    aligns = ("CENTER", "LEFT", "RIGHT", "CENTER", "RIGHT", "RIGHT", "RIGHT", "RIGHT", "RIGHT")
    pdf.set_font("DejaVu", size=8)
    with pdf.table(
        col_widths=widths, width=sum(widths), align="LEFT", text_align=aligns, line_height=5
    ) as table:
        row = table.row()
        for header in headers:
            row.cell(header)
        for u in result.units:
            interval = f"{_fmt(u.index_low)}–{_fmt(u.index_high)}" if u.index is not None else ""
            cells = (
                str(u.rank) if u.rank else "—",
                u.name,
                _fmt(u.index) if u.index is not None else "н/д",
                interval,
                _fmt(_ranked(lambda x: x.volume.estimate)(u)),
                _fmt(_ranked(lambda x: x.speed.estimate)(u)),
                _fmt(_ranked(lambda x: x.completeness.estimate)(u)),
                str(u.counts.workload),
                f"{u.rank_change:+d}" if u.rank_change else "",
            )
            row = table.row()
            for text in cells:
                row.cell(text)
    pdf.set_font("DejaVu", size=7)
    note = (
        f"н/д — недостаточно данных: меньше {result.config.min_incidents} инцидентов в работе. "
        "Интервал — 90% байесовский; Инц. — инцидентов в работе; Δ — изменение места."
    )
    pdf.multi_cell(0, 4, note, new_x="LMARGIN", new_y="NEXT")


def _pdf_axis(pdf: FPDF, *, x0: float, width: float) -> None:
    """Ticks 0–100 under the bars."""
    y = pdf.get_y()
    pdf.set_draw_color(150, 150, 150)
    pdf.line(x0, y, x0 + width, y)
    for tick in range(0, 101, 25):
        x = x0 + width * tick / 100
        pdf.line(x, y, x, y + 1.2)
        pdf.set_xy(x - 5, y + 1.2)
        pdf.cell(10, 3.5, str(tick), align="C")
    pdf.set_xy(pdf.l_margin, y + 5)


def _pdf_chart(pdf: FPDF, result: RatingResult) -> None:
    """Horizontal bars of the index with the 90% interval as a whisker."""
    ranked = [u for u in result.units if u.index is not None]
    label_w, bar_w, bar_h, gap = 66.0, 100.0, 5.0, 1.5
    bottom = pdf.h - pdf.b_margin - 6  # room for the axis
    if pdf.get_y() + 8 + min(len(ranked), 10) * (bar_h + gap) > bottom:
        pdf.add_page()
    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(0, 8, "Индекс 0–100 (отрезок — 90% интервал)", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=7)
    x0 = pdf.l_margin + label_w
    for unit in ranked:
        if pdf.get_y() + bar_h > bottom:
            _pdf_axis(pdf, x0=x0, width=bar_w)
            pdf.add_page()
        y = pdf.get_y()
        pdf.set_xy(pdf.l_margin, y)
        pdf.cell(label_w - 2, bar_h, fit_text(pdf, unit.name, label_w - 3), align="R")
        pdf.set_fill_color(70, 110, 170)
        pdf.rect(x0, y + 0.5, bar_w * (unit.index or 0) / 100, bar_h - 1, style="F")
        if unit.index_low is not None and unit.index_high is not None:
            pdf.set_draw_color(40, 40, 40)
            lo, hi = x0 + bar_w * unit.index_low / 100, x0 + bar_w * unit.index_high / 100
            pdf.line(lo, y + bar_h / 2, hi, y + bar_h / 2)
            pdf.line(lo, y + 1, lo, y + bar_h - 1)
            pdf.line(hi, y + 1, hi, y + bar_h - 1)
        pdf.set_xy(x0 + bar_w + 2, y)
        pdf.cell(14, bar_h, _fmt(unit.index))
        pdf.set_y(y + bar_h + gap)
    _pdf_axis(pdf, x0=x0, width=bar_w)


def _pdf_movers(pdf: FPDF, result: RatingResult) -> None:
    """Who moved up or down against the previous week."""
    pdf.ln(4)
    pdf.set_font("DejaVu", "B", 11)
    pdf.cell(0, 8, "Изменения мест за неделю", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=9)
    moved = movers(units=result.units, limit=10)
    if not moved:
        pdf.cell(0, 6, "Места не изменились.", new_x="LMARGIN", new_y="NEXT")
    for unit in moved:
        change = unit.rank_change or 0
        arrow = "↑" if change > 0 else "↓"
        line = f"{arrow} {unit.name}: {unit.previous_rank} → {unit.rank} ({change:+d})"
        pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")


def write_pdf(
    result: RatingResult,
    path: Path | str,
    *,
    font_dir: Path = DEFAULT_FONT_DIR,
    trend: Trend | None = None,
) -> Path:
    """Write the A4 report: title, ranking table, index bar chart, movers and, with
    ``trend``, a page of 12-week charts."""
    fonts = _font_paths(font_dir)
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(12, 12, 12)
    pdf.set_auto_page_break(auto=True, margin=12)
    for style, font_path in fonts.items():
        pdf.add_font("DejaVu", style, str(font_path))
    pdf.set_title(f"Рейтинг отделов за неделю {result.week}")
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 15)
    pdf.cell(0, 9, f"Рейтинг отделов за неделю {result.week}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=9)
    pdf.cell(0, 5, f"{period_text(result)}, {result.timezone}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 5, _status_line(result), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    _pdf_table(pdf, result)
    pdf.ln(5)
    _pdf_chart(pdf, result)
    _pdf_movers(pdf, result)
    if trend is not None:
        draw_trend_pages(pdf, trend, order=[unit.key for unit in result.units])
    target = Path(path)
    pdf.output(str(target))
    return target
