"""One way for every `mcu` command to report errors a person can fix: one line, exit code 2."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import typer
from rich.console import Console

from config.errors import ConfigError
from core.errors import AppError

err = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Configuration and domain errors become one clear line and exit code 2, no traceback."""
    try:
        yield
    except ConfigError as exc:
        err.print(f"[red]Ошибка конфигурации:[/red] {exc}", soft_wrap=True, highlight=False)
        raise typer.Exit(2) from None
    except AppError as exc:
        err.print(f"[red]Ошибка:[/red] {exc}", soft_wrap=True, highlight=False)
        raise typer.Exit(2) from None


def friendly(func: F) -> F:
    """Decorator form of `friendly_errors` for Typer commands."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with friendly_errors():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
