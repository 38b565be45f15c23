"""`mcu rating compute|report|publish`: the weekly ranking from the command line."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from rich.console import Console
from rich.table import Table

from app.context import AppContext, build_context
from core.db import session_scope
from rating import report, service
from rating.scoring import RatingResult
from rating.serialize import page_dict, to_json_dict
from rating.trend import Trend
from rating.weeks import week_of

rating_app = typer.Typer(help="Еженедельный рейтинг отделов.", no_args_is_help=True)
console = Console()
TEMPLATES = Path(__file__).resolve().parent / "templates"

Week = Annotated[
    str | None, typer.Option(help="ISO-неделя, например 2026-W47 (по умолчанию текущая)")
]


class ReportFormat(StrEnum):
    xlsx = "xlsx"
    pdf = "pdf"
    html = "html"


def _compute(ctx: AppContext, week: str | None) -> RatingResult:
    now = datetime.now(UTC)
    with session_scope(ctx.engine) as session:
        return service.get_or_compute_snapshot(
            session,
            week=week or week_of(now, ctx.tz),
            calendar=ctx.calendar,
            weights=ctx.rating_config,
            now=now,
        )


def _with_trend(ctx: AppContext, week: str | None) -> tuple[RatingResult, Trend]:
    """The week's rating and the 12 weeks ending with it (the week is computed once)."""
    now = datetime.now(UTC)
    calendar, weights = ctx.calendar, ctx.rating_config
    with session_scope(ctx.engine) as session:
        result = service.get_or_compute_snapshot(
            session, week=week or week_of(now, ctx.tz), calendar=calendar, weights=weights, now=now
        )
        trend = service.trend(
            session,
            week=result.week,
            calendar=calendar,
            weights=weights,
            now=now,
            known={result.week: result},
        )
    return result, trend


def render_html(result: RatingResult) -> str:
    """A standalone HTML page of the ranking (citizen-free data, still autoescaped)."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    return env.get_template("rating_report.html").render(r=page_dict(result))


def _print_table(result: RatingResult) -> None:
    table = Table(
        "Место",
        "Отдел",
        "Индекс",
        "Объём",
        "Скорость",
        "Полнота",
        "Инцидентов",
        title=f"Рейтинг отделов, неделя {result.week}",
    )
    for unit in to_json_dict(result)["units"]:
        table.add_row(
            str(unit["rank"] or "—"),
            str(unit["department"]),
            "—" if unit["index"] is None else f"{unit['index']:.1f}",
            *(
                "—" if unit[k] is None else f"{unit[k]:.1f}"
                for k in ("volume", "speed", "completeness")
            ),
            str(unit["incidents"]),
        )
    console.print(table)


@rating_app.command("compute")
def compute(week: Week = None, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Рассчитать рейтинг недели (черновик сохраняется, опубликованный не меняется)."""
    result = _compute(build_context(), week)
    if as_json:
        print(json.dumps(to_json_dict(result), ensure_ascii=False))
    else:
        _print_table(result)


@rating_app.command("report")
def make_report(
    out: Annotated[Path, typer.Option(help="Файл отчёта")],
    week: Week = None,
    fmt: Annotated[ReportFormat, typer.Option("--format")] = ReportFormat.xlsx,
) -> None:
    """Отчёт недели в XLSX, PDF (оба — с динамикой за 12 недель) или HTML."""
    ctx = build_context()
    if fmt is ReportFormat.html:
        result = _compute(ctx, week)
        out.write_text(render_html(result), encoding="utf-8")
    else:
        result, trend = _with_trend(ctx, week)
        if fmt is ReportFormat.xlsx:
            report.write_xlsx(result, out, trend=trend)
        else:
            report.write_pdf(result, out, trend=trend)
    console.print(f"Отчёт за {result.week}: {out}")


@rating_app.command("publish")
def publish(week: Annotated[str, typer.Option(help="Завершившаяся ISO-неделя")]) -> None:
    """Опубликовать (заморозить) рейтинг завершившейся недели."""
    ctx = build_context()
    with session_scope(ctx.engine) as session:
        result = service.publish_snapshot(
            session,
            week=week,
            calendar=ctx.calendar,
            weights=ctx.rating_config,
            now=datetime.now(UTC),
        )
    console.print(f"Рейтинг {result.week} опубликован: {len(result.units)} отделов")
