"""`mcu apikey …` (integration keys) and `mcu import pos FILE` (ПОС export import)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from app.cli_errors import friendly
from core.errors import AppError

console = Console()
err = Console(stderr=True)
apikey_app = typer.Typer(help="Ключи API интеграций: портал, Open311, ПОС.", no_args_is_help=True)
import_app = typer.Typer(help="Импорт выгрузок из внешних систем.", no_args_is_help=True)
SHOWN_ERRORS = 200


@apikey_app.command("create")
@friendly
def apikey_create(
    source: Annotated[str, typer.Option("--source", help="Имя источника (создаётся, если нет).")],
    kind: Annotated[
        str | None, typer.Option(help="Вид нового источника: portal, open311 или pos.")
    ] = None,
) -> None:
    """Выпустить ключ API; он печатается один раз и нигде не хранится в открытом виде."""
    from app.context import build_context
    from collectors import apikeys
    from collectors.repository import ensure_source, get_source
    from core.db import session_scope

    if kind is not None and kind not in apikeys.KEY_KINDS:
        raise AppError(f"Вид источника {kind!r} не подходит; допустимо: portal, open311, pos.")
    ctx = build_context()
    with session_scope(ctx.engine) as session:
        existing = get_source(session, name=source)
        if existing is not None and kind is not None and existing.kind != kind:
            raise AppError(f"Источник «{source}» уже существует с видом {existing.kind}.")
        target = existing or ensure_source(session, name=source, kind=kind or "portal")
        new = apikeys.create_key(
            session, source=target, pepper=ctx.settings.secret_key, now=datetime.now(UTC)
        )
        label = f"«{target.name}» (вид {target.kind})"
    err.print(f"Ключ API источника {label}. Сохраните его: повторно он не показывается.")
    print(new.key)


@apikey_app.command("list")
@friendly
def apikey_list() -> None:
    """Выпущенные ключи: префикс, источник, когда выпущен и отозван ли."""
    from app.context import build_context
    from collectors.repository_portal import list_api_keys
    from core.db import session_scope

    ctx = build_context()
    table = Table("Префикс", "Источник", "Вид", "Выпущен", "Отозван")
    with session_scope(ctx.engine) as session:
        for key, source in list_api_keys(session):
            revoked = key.revoked_at.isoformat(timespec="minutes") if key.revoked_at else "—"
            created = key.created_at.isoformat(timespec="minutes")
            table.add_row(key.prefix, source.name, source.kind, created, revoked)
    console.print(table if table.row_count else "Ключей пока нет.")


@apikey_app.command("revoke")
@friendly
def apikey_revoke(
    prefix: Annotated[str, typer.Argument(help="Префикс ключа (8 символов).")],
) -> None:
    """Отозвать ключ: запросы с ним получат 401."""
    from app.context import build_context
    from collectors.repository_portal import revoke_api_keys
    from core.db import session_scope

    ctx = build_context()
    with session_scope(ctx.engine) as session:
        count = revoke_api_keys(session, prefix=prefix.strip(), now=datetime.now(UTC))
    if not count:
        raise AppError(f"Действующий ключ с префиксом {prefix!r} не найден.")
    console.print(f"Отозвано ключей: {count}")


@import_app.callback()
def import_group() -> None:
    """Импорт выгрузок из внешних систем."""
    # A callback keeps `import` a group even while it has a single command.


@contextmanager
def _progress(enabled: bool, total: int | None) -> Iterator[Callable[[int], None]]:
    columns = (TextColumn("Импорт ПОС"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True, disable=not enabled) as progress:
        task = progress.add_task("import", total=total)
        yield lambda rows: progress.advance(task, rows)


def _print_report(meta: dict[str, Any], report: dict[str, Any]) -> None:
    where = f"лист «{meta['sheet']}»" if meta["sheet"] else f"кодировка {meta['encoding']}"
    console.print(f"Файл {meta['file']} ({meta['format']}, {where}).", highlight=False)
    console.print(
        f"Строк: {report['rows']}, сохранено: {report['stored']}, "
        f"повторов: {report['duplicates']}, пропущено с ошибками: {report['skipped']}."
    )
    errors = report["errors"]
    if not errors:
        return
    table = Table("Строка", "Колонка", "Проблема", "Строка пропущена", title="Ошибки в строках")
    for item in errors[:SHOWN_ERRORS]:
        skipped = "да" if item["skipped"] else "нет"
        table.add_row(str(item["row"]), item["column"] or "—", item["problem"], skipped)
    console.print(table)
    if len(errors) > SHOWN_ERRORS:
        console.print(f"… и ещё {len(errors) - SHOWN_ERRORS} (полный список: --json).")


@import_app.command("pos")
@friendly
def import_pos(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Выгрузка .xlsx/.csv")],
    source: Annotated[str, typer.Option(help="Источник вида pos (создаётся, если нет).")] = "pos",
    as_json: Annotated[bool, typer.Option("--json", help="Итог в JSON.")] = False,
) -> None:
    """Импортировать выгрузку ПОС: хорошие строки сохраняются, плохие — в отчёт об ошибках."""
    from app.context import build_context
    from collectors.pos_import import open_pos_file, store_rows
    from collectors.repository import ensure_source
    from core.db import session_scope

    ctx = build_context()
    with session_scope(ctx.engine) as session:
        target = ensure_source(session, name=source, kind="pos")
        if target.kind != "pos":
            raise AppError(f"Источник «{source}» имеет вид {target.kind}, а нужен pos.")
        secret = ctx.settings.secret_key
        with open_pos_file(file, source=target.name, tz=ctx.tz, secret=secret) as pos:
            meta = {"file": str(file), "format": pos.format, "encoding": pos.encoding}
            meta["sheet"] = pos.sheet
            with _progress(not as_json, pos.total_rows) as advance:

                def after_batch(rows: int) -> None:
                    session.commit()  # a batch per transaction: a crash keeps what is stored
                    advance(rows)

                report = store_rows(
                    session, source=target, rows=pos.rows, now=datetime.now(UTC),
                    after_batch=after_batch,
                ).to_dict()  # fmt: skip
    if as_json:
        print(json.dumps(meta | report, ensure_ascii=False))
    else:
        _print_report(meta, report)
