"""The 12-week trend in the reports: the «Динамика» sheet with a line chart, and a PDF page.

Weeks without a place are empty cells in the sheet (the chart leaves a gap there, it does
not drop to zero) and breaks in the PDF lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from fpdf import FPDF
from openpyxl import Workbook
from openpyxl.chart import LineChart, Reference
from openpyxl.chart.marker import Marker
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from rating.trend import Trend, TrendLine, ordered_lines, runs
from rating.weeks import week_start_date

__all__ = ["TREND_SHEET", "TREND_TITLE", "add_trend_sheet", "draw_trend_pages", "fit_text"]

TREND_SHEET = "Динамика"
TREND_TITLE = "Динамика индекса за 12 недель"
GAP_NOTE = (
    "Разрыв линии — неделя без места в рейтинге (недостаточно данных или нет инцидентов); "
    "полый кружок — неделя не опубликована, данные предварительные."
)
_LEAD = ("Неделя", "Даты", "Статус недели")


def _week_dates(week: str) -> str:
    monday = week_start_date(week)
    return f"{monday:%d.%m}–{monday + timedelta(days=6):%d.%m.%Y}"


def add_trend_sheet(book: Workbook, trend: Trend, *, order: Sequence[str] = ()) -> None:
    """Weeks down, departments across (index 0–100, empty: no place), and a line chart."""
    sheet = book.create_sheet(TREND_SHEET)
    lines = ordered_lines(trend, order=order)
    sheet.append([*_LEAD, *(line.department for line in lines)])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        cell.fill = PatternFill("solid", fgColor="DDE5F0")
    for position, week in enumerate(trend.weeks):
        status = "опубликована" if trend.published[position] else "предварительно"
        values = [_rounded(line.index[position]) for line in lines]
        sheet.append([week, _week_dates(week), status, *values])
    first_value = len(_LEAD) + 1
    for column in range(1, first_value + len(lines)):
        sheet.column_dimensions[get_column_letter(column)].width = 14 if column > 3 else 13
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
            if column >= first_value:
                cell.number_format = "0.0"
    sheet.row_dimensions[1].height = 60
    sheet.freeze_panes = sheet.cell(row=2, column=first_value)
    last_row = len(trend.weeks) + 1
    note_row = last_row + 2
    sheet.cell(row=note_row, column=1, value=GAP_NOTE)
    if lines and trend.weeks:
        sheet.add_chart(_line_chart(lines, last_row=last_row, sheet=sheet), f"A{note_row + 2}")


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _line_chart(lines: Sequence[TrendLine], *, last_row: int, sheet: Worksheet) -> LineChart:
    """One series per department; blanks are gaps, the axis is fixed to 0–100."""
    chart = LineChart()
    chart.title = TREND_TITLE
    chart.y_axis.title = "Индекс"
    chart.x_axis.title = "Неделя"
    chart.y_axis.scaling.min = 0
    chart.y_axis.scaling.max = 100
    chart.y_axis.majorUnit = 20
    # openpyxl hides both axes unless told otherwise (delete=True by default in 3.1).
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    chart.display_blanks = "gap"
    chart.width, chart.height = 26, 13
    first = len(_LEAD) + 1
    last_col = first + len(lines) - 1
    data = Reference(sheet, min_col=first, max_col=last_col, min_row=1, max_row=last_row)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=last_row))
    for series in chart.series:
        # A lone week between gaps would be invisible as a line: mark every point.
        series.marker = Marker(symbol="circle", size=5)
        series.smooth = False
    return chart


# --- PDF -------------------------------------------------------------------------------

_COLUMNS, _CELL_H, _GAP = 3, 44.0, 4.0
_PLOT_LEFT, _PLOT_TOP, _PLOT_BOTTOM = 8.0, 9.0, 6.0


def draw_trend_pages(pdf: FPDF, trend: Trend, *, order: Sequence[str] = ()) -> None:
    """A new page: one small chart per department with a place in some week of the trend."""
    pdf.add_page()
    pdf.start_section(TREND_TITLE)
    pdf.set_font("DejaVu", "B", 13)
    pdf.cell(0, 8, TREND_TITLE, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", size=7)
    first, last = (trend.weeks[0], trend.weeks[-1]) if trend.weeks else ("", "")
    pdf.multi_cell(0, 3.6, f"Недели {first} – {last}. {GAP_NOTE}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    lines = ordered_lines(trend, order=order)
    shown = [line for line in lines if line.has_values]
    width = (pdf.w - pdf.l_margin - pdf.r_margin - _GAP * (_COLUMNS - 1)) / _COLUMNS
    top = pdf.get_y()
    for position, line in enumerate(shown):
        column = position % _COLUMNS
        if column == 0 and position and top + 2 * _CELL_H > pdf.h - pdf.b_margin:
            pdf.add_page()
            top = pdf.t_margin
        elif column == 0 and position:
            top += _CELL_H
        x = pdf.l_margin + column * (width + _GAP)
        _small_chart(pdf, trend, line, x=x, y=top, width=width)
    pdf.set_xy(pdf.l_margin, top + (_CELL_H if shown else 0))
    missing = [line.department for line in lines if not line.has_values]
    if missing or not shown:
        pdf.set_font("DejaVu", size=7)
        text = "Без места во все недели: " + ", ".join(missing) if missing else "Нет данных."
        pdf.multi_cell(0, 3.6, text, new_x="LMARGIN", new_y="NEXT")


def _small_chart(
    pdf: FPDF, trend: Trend, line: TrendLine, *, x: float, y: float, width: float
) -> None:
    """Title with the latest value, a 0–100 frame, week numbers, the line with gaps."""
    last = next((v for v in reversed(line.index) if v is not None), None)
    pdf.set_font("DejaVu", "B", 7)
    pdf.set_xy(x, y)
    tail = "" if last is None else f"  {last:.1f}"
    pdf.cell(width, 4, fit_text(pdf, line.department, width - 12) + tail)
    left, right = x + _PLOT_LEFT, x + width - 1
    plot_top, plot_bottom = y + _PLOT_TOP - 3, y + _CELL_H - _PLOT_BOTTOM - _GAP
    count = max(len(trend.weeks), 1)
    step = (right - left) / count

    def at(position: int, value: float) -> tuple[float, float]:
        return left + step * (position + 0.5), plot_bottom - (plot_bottom - plot_top) * value / 100

    pdf.set_font("DejaVu", size=5)
    pdf.set_draw_color(215, 215, 215)
    pdf.set_line_width(0.1)
    for tick in (0, 50, 100):
        _, ty = at(0, tick)
        pdf.line(left, ty, right, ty)
        pdf.set_xy(x, ty - 1.5)
        pdf.cell(_PLOT_LEFT - 1, 3, str(tick), align="R")
    for position, week in enumerate(trend.weeks):
        tx, _ = at(position, 0)
        pdf.set_xy(tx - 3, plot_bottom + 0.5)
        pdf.cell(6, 2.5, week[-2:], align="C")
    pdf.set_draw_color(31, 95, 168)
    pdf.set_line_width(0.45)
    for run in runs(line.index):
        if len(run) > 1:
            pdf.polyline([at(position, value) for position, value in run])
        for position, value in run:
            # Filled: a published week; hollow: computed on the fly, still preliminary.
            fill = (31, 95, 168) if trend.published[position] else (255, 255, 255)
            pdf.set_fill_color(*fill)
            pdf.circle(*at(position, value), 0.7, style="DF")
    pdf.set_line_width(0.2)
    pdf.set_draw_color(0, 0, 0)


def fit_text(pdf: FPDF, text: str, width: float) -> str:
    """``text`` cut with «…» to fit ``width`` mm in the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"
