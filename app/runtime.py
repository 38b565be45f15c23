"""`mcu run`: prepare everything a fresh machine lacks, then serve web + scheduler."""

from __future__ import annotations

import logging

from rich.console import Console

from app import repository as app_repo
from app.context import AppContext, build_context
from app.demo import DEMO_PASSWORD, demo_accounts, load_demo
from app.models import ensure_classifier
from app.server import run_server
from core import migrate
from core.db import session_scope
from core.seed import seed_reference

console = Console()


def configure_logging() -> None:
    """Our INFO lines (what each job did) on stderr; chatty libraries only from WARNING."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # APScheduler logs every run at INFO (our jobs log what they did themselves); fontTools
    # logs every table it prunes while fpdf2 subsets the fonts of a PDF report.
    for noisy in ("apscheduler", "fontTools"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def prepare(*, load_demo_data: bool = True) -> AppContext:
    """Migrate, seed from config/, train the classifier if missing, load the demo once."""
    ctx = build_context(require_schema=False)
    migrate.upgrade(ctx.engine)
    with session_scope(ctx.engine) as session:
        seed_reference(session, ctx.config)
    trained = ensure_classifier(ctx, progress=True)
    if trained:
        console.print(f"Классификатор обучен: версия {trained}")
    if load_demo_data and ctx.settings.demo_mode:
        console.print(str(load_demo(ctx, days=21, progress=True)))
    return ctx


def _banner(ctx: AppContext, host: str, port: int) -> None:
    url = f"http://{host}:{port}"
    console.rule("[bold]МЦУ запущен")
    console.print(f"Откройте [bold]{url}/[/bold]  (API: {url}/docs, здоровье: {url}/healthz)")
    if ctx.settings.demo_mode:
        with session_scope(ctx.engine) as session:
            codes = tuple(d.code for d in app_repo.departments(session))
        names = ", ".join(demo_accounts(codes))
        console.print(f"Демо-входы (пароль [bold]{DEMO_PASSWORD}[/bold]): {names}")
    console.print("Остановить: Ctrl+C")


def serve(ctx: AppContext, *, host: str, port: int, with_scheduler: bool) -> None:
    """Serve the web UI and API; optionally run the background jobs in this process."""
    from web.app import create_app

    configure_logging()
    scheduler = None
    if with_scheduler:
        from app.scheduler import start_background

        scheduler = start_background(ctx)
    app = create_app(ctx.settings, engine=ctx.engine)
    _banner(ctx, host, port)
    try:
        run_server(app, host=host, port=port)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)


def serve_workers(ctx: AppContext, *, host: str, port: int, workers: int) -> None:
    """Serve the web UI and API from several processes (no background jobs here)."""
    configure_logging()
    _banner(ctx, host, port)
    ctx.engine.dispose()  # every worker builds its own engine from the same MCU_* settings
    run_server("app.server:web_app", host=host, port=port, workers=workers, factory=True)
