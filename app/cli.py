"""The `mcu` command: serve, work, migrate, seed, demo, users and sources."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from app.cli_errors import friendly

console = Console()
err = Console(stderr=True)

cli = typer.Typer(
    name="mcu",
    help="МЦУ — центр управления муниципальным образованием.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="База данных: миграции и справочники.", no_args_is_help=True)
demo_app = typer.Typer(help="Демонстрационные данные.", no_args_is_help=True)
user_app = typer.Typer(help="Учётные записи сотрудников.", no_args_is_help=True)
cli.add_typer(db_app, name="db")
cli.add_typer(demo_app, name="demo")
cli.add_typer(user_app, name="user")

Host = Annotated[str, typer.Option(help="Адрес, на котором слушать.")]
Port = Annotated[int, typer.Option(help="Порт.")]


@cli.command()
@friendly
def run(host: Host = "127.0.0.1", port: Port = 8000, demo: bool = True) -> None:
    """Всё в одном процессе: миграции, справочники, демо, веб, планировщик."""
    from app.runtime import prepare, serve

    ctx = prepare(load_demo_data=demo)
    serve(ctx, host=host, port=port, with_scheduler=True)


@cli.command()
@friendly
def web(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Процессов веб-сервера (обычно по числу ядер).")
    ] = 1,
) -> None:
    """Только веб-интерфейс и API (без фоновых задач)."""
    from app.context import build_context
    from app.runtime import serve, serve_workers

    if workers > 1:
        serve_workers(build_context(), host=host, port=port, workers=workers)
    else:
        serve(build_context(), host=host, port=port, with_scheduler=False)


@cli.command()
@friendly
def worker(
    once: Annotated[bool, typer.Option(help="Выполнить каждую задачу один раз.")] = False,
) -> None:
    """Фоновые задачи: сбор, классификация, сроки, эскалация, рейтинг."""
    from app.context import build_context
    from app.runtime import configure_logging
    from app.scheduler import run_all_once, run_forever

    configure_logging()
    ctx = build_context()
    if once:
        for name, result in run_all_once(ctx).items():
            console.print(f"{name}: {result}")
    else:
        run_forever(ctx)


@cli.command()
@friendly
def bot() -> None:
    """Telegram-бот сотрудников: привязка (/start КОД) и кнопки в оповещениях."""
    from app.bot import run_bot
    from app.context import build_context

    run_bot(build_context())


@db_app.command("upgrade")
@friendly
def db_upgrade(revision: str = "head") -> None:
    """Применить миграции (по умолчанию до последней)."""
    from app.context import build_context
    from core import migrate

    ctx = build_context(require_schema=False)
    migrate.upgrade(ctx.engine, revision)
    console.print(f"База данных на ревизии {migrate.current_revision(ctx.engine)}")


@db_app.command("seed")
@friendly
def db_seed() -> None:
    """Заполнить справочники из config/ (существующие записи не меняются)."""
    from app.context import build_context
    from core.db import session_scope
    from core.seed import seed_reference

    ctx = build_context()
    with session_scope(ctx.engine) as session:
        stats = seed_reference(session, ctx.config)
    console.print(f"Добавлено: {stats}")


@demo_app.command("load")
@friendly
def demo_load(
    days: Annotated[int, typer.Option(help="Сколько дней истории создать.")] = 21,
) -> None:
    """Демо-учётные записи (пароль demo) и история обращений за несколько недель."""
    from app.context import build_context
    from app.demo import load_demo

    ctx = build_context()
    summary = load_demo(ctx, days=days, progress=True)
    console.print(str(summary))


@user_app.command("add")
@friendly
def user_add(
    username: str,
    role: Annotated[
        str, typer.Option(help="admin, coordinator, operator, sector_head, executor, head")
    ],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    full_name: str = "",
    department: Annotated[str | None, typer.Option(help="Код отдела")] = None,
    block: Annotated[
        list[str] | None, typer.Option(help="Блок руководителя (можно несколько)")
    ] = None,
) -> None:
    """Создать учётную запись сотрудника."""
    from app.context import build_context
    from app.users import add_user
    from core.db import session_scope

    ctx = build_context()
    with session_scope(ctx.engine) as session:
        user = add_user(
            session,
            username=username,
            password=password,
            role=role,
            full_name=full_name,
            department_code=department,
            blocks=tuple(block or ()),
        )
        console.print(f"Создан пользователь {user.username} (id {user.id}, роль {user.role})")


def _mount_subapps() -> None:
    from app.cli_classifier import classifier_app, classify_command
    from app.cli_portal import apikey_app, import_app
    from app.cli_rating import rating_app
    from app.cli_sla import sla_app
    from app.cli_sources import collect_command, sources_app
    from app.cli_telegram import telegram_app

    cli.command("classify")(friendly(classify_command))
    for sub, name in (
        (rating_app, "rating"),
        (sources_app, "sources"),
        (classifier_app, "classifier"),
        (apikey_app, "apikey"),
        (import_app, "import"),
        (telegram_app, "telegram"),
        (sla_app, "sla"),
    ):
        _wrap_commands(sub)
        cli.add_typer(sub, name=name)
    cli.command("collect")(friendly(collect_command))


def _wrap_commands(app: typer.Typer) -> None:
    # Sub-apps get the same one-line error reporting as the top-level commands.
    for info in app.registered_commands:
        if info.callback is not None:
            info.callback = friendly(info.callback)


_mount_subapps()


def main() -> None:
    """Entry point of the `mcu` console script."""
    cli(prog_name="mcu")


if __name__ == "__main__":  # pragma: no cover
    main()
