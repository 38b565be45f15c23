"""`mcu sla due`: the deadline a policy gives to a message received at a moment."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console

from app.cli_errors import friendly
from app.context import build_context
from core.db import session_scope
from core.errors import AppError
from incidents import repository as incidents_repo
from incidents.rules import compute_due

sla_app = typer.Typer(help="Сроки ответа по политикам SLA.", no_args_is_help=True)
console = Console()


def parse_received(value: str) -> datetime:
    """An ISO 8601 moment with its offset (a bare time is ambiguous and refused)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise AppError(f"время {value!r} не в формате ISO 8601") from exc
    if moment.tzinfo is None:
        raise AppError(f"у времени {value!r} нет смещения: укажите, например, +10:00")
    return moment


@sla_app.command("due")
@friendly
def due(
    policy: Annotated[
        str, typer.Option(help="Код политики: social_high, social_normal, portal, fz59")
    ],
    received: Annotated[str, typer.Option(help="Момент получения, ISO 8601 со смещением")],
) -> None:
    """Напечатать срок ответа в ISO 8601 со смещением муниципалитета."""
    moment = parse_received(received)
    ctx = build_context()
    with session_scope(ctx.engine) as session:
        rule = incidents_repo.get_policy(session, code=policy)
    deadlines = compute_due(rule, received=moment, calendar=ctx.calendar)
    deadline = deadlines.first_answer_due or deadlines.final_due
    if deadline is None:
        raise AppError(f"политика {policy!r} не задаёт срока от момента получения")
    print(deadline.astimezone(ctx.calendar.tz).isoformat())
