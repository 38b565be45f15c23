"""`mcu sources` (list, `add vk`) and `mcu collect SOURCE --once`: one pass of a source."""

from __future__ import annotations

import json as jsonlib
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from app.cli_errors import friendly_errors
from app.collect import collect_source
from app.context import AppContext, build_context
from collectors import repository as collectors_repo
from collectors.health import source_health
from collectors.vk import VkCollector
from core.db import session_scope
from core.errors import ConflictError
from core.models import Source

console = Console()

sources_app = typer.Typer(help="Источники сообщений: список и подключение.")
add_app = typer.Typer(help="Подключить источник.", no_args_is_help=True)
sources_app.add_typer(add_app, name="add")


def make_vk_collector(ctx: AppContext, source: Source) -> VkCollector:
    """The VK collector of a source, with the municipality's settlements as search queries."""
    settlements = [
        str(s["name"]) for s in ctx.config.gazetteer.get("settlements") or () if s.get("name")
    ]
    return VkCollector.from_source(source, settings=ctx.settings, settlements=settlements)


def _source_rows(session: Session) -> list[dict[str, Any]]:
    # The secret is write-only: source_health never includes it.
    return [source_health(s) for s in collectors_repo.list_sources(session)]


def _print_table(rows: list[dict[str, Any]]) -> None:
    table = Table("Источник", "Вид", "Состояние", "Успех", "Получено", "Сохранено", "Ошибок")
    table.add_column("Последняя ошибка")
    for r in rows:
        table.add_row(
            r["name"],
            r["kind"],
            r["status"] if r["enabled"] else "выключен",
            r["last_success_at"] or "—",
            str(r["fetched"]),
            str(r["stored"]),
            str(r["errors"]),
            (r["last_error"] or "")[:60],
        )
    console.print(table if rows else "Источников пока нет.")


@sources_app.callback(invoke_without_command=True)
def sources_list(
    ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False
) -> None:
    """Источники сообщений и их состояние."""
    if ctx.invoked_subcommand is not None:
        return
    with friendly_errors():
        app_ctx = build_context()
        with session_scope(app_ctx.engine) as session:
            rows = _source_rows(session)
    if as_json:
        print(jsonlib.dumps(rows, ensure_ascii=False))
    else:
        _print_table(rows)


@add_app.command("vk")
def add_vk(
    name: Annotated[str, typer.Option(help="Имя источника, например vk-admin.")],
    group: Annotated[int, typer.Option(help="ID сообщества VK (число).")],
    token: Annotated[
        str, typer.Option(prompt="Ключ доступа", hide_input=True, help="Ключ доступа VK.")
    ],
    interval: Annotated[int, typer.Option(min=30, help="Период опроса, секунд.")] = 300,
    longpoll: Annotated[
        bool, typer.Option(help="Читать личные сообщения сообществу (Bots Long Poll).")
    ] = False,
    search: Annotated[
        bool, typer.Option(help="Искать по всему VK (нужен MCU_VK_USER_TOKEN).")
    ] = True,
    recheck_days: Annotated[
        float, typer.Option(min=0, help="Сколько дней перепроверять комментарии к записям.")
    ] = 3.0,
) -> None:
    """Подключить сообщество VK (ключ сохраняется и больше не показывается)."""
    settings = {
        "group_id": abs(group),
        "longpoll": longpoll,
        "search": search,
        "recheck_days": recheck_days,
    }
    with friendly_errors():
        app_ctx = build_context()
        with session_scope(app_ctx.engine) as session:
            created = _upsert_vk(
                session, name=name, settings=settings, token=token, interval=interval
            )
    verb = "подключён" if created else "обновлён (ключ заменён, состояние сброшено)"
    console.print(
        f"Источник {name} {verb}: сообщество {abs(group)}, опрос каждые {interval} с.",
        highlight=False,
    )


def _upsert_vk(
    session: Session, *, name: str, settings: dict[str, Any], token: str, interval: int
) -> bool:
    """Create the source, or replace its token and settings (the way to revive a dead token)."""
    source = collectors_repo.get_source(session, name=name)
    if source is not None and source.kind != "vk":
        raise ConflictError(f"источник {name!r} уже есть и он другого вида ({source.kind})")
    if source is None:
        collectors_repo.ensure_source(
            session,
            name=name,
            kind="vk",
            settings=settings,
            secret=token,
            interval_seconds=interval,
            cursor={},
            status="ok",
        )
        return True
    source.settings = {**(source.settings or {}), **settings}
    source.secret, source.interval_seconds = token, interval
    source.status, source.paused_until, source.last_error = "ok", None, None
    return False


def collect_command(
    source: Annotated[str, typer.Argument(help="Имя источника (см. `mcu sources`).")],
    once: Annotated[bool, typer.Option(help="Один проход и выход.")] = True,
    json: Annotated[bool, typer.Option("--json", help="Итог в JSON.")] = False,
) -> None:
    """Собрать новые сообщения источника: один проход или по расписанию источника."""
    with friendly_errors():
        app_ctx = build_context()
        while True:
            with session_scope(app_ctx.engine) as session:
                result = collect_source(app_ctx, session, name=source, now=datetime.now(UTC))
                row = collectors_repo.get_source(session, name=source)
                interval = row.interval_seconds if row is not None else 300
            if json:
                print(jsonlib.dumps(result.to_dict()), flush=True)
            else:
                console.print(
                    f"{source}: получено {result.fetched}, сохранено {result.stored}, "
                    f"повторов {result.duplicates}, ошибок {result.errors}",
                    highlight=False,
                )
            if once:
                return
            time.sleep(interval)
