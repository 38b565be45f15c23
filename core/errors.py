"""Domain errors: one root so the web layer and the CLI can map them to clear messages."""

from __future__ import annotations

from config.errors import ConfigError

__all__ = [
    "AppError",
    "ConfigError",
    "ConflictError",
    "DatabaseUnavailableError",
    "NotFoundError",
    "PermissionDeniedError",
]


class AppError(Exception):
    """Base of every error МЦУ reports to a person rather than as a traceback."""

    status_code = 400


class NotFoundError(AppError):
    """The requested object does not exist."""

    status_code = 404


class ConflictError(AppError):
    """The request contradicts the current state (e.g. an illegal status transition)."""

    status_code = 409


class PermissionDeniedError(AppError):
    """The user's role does not allow the action."""

    status_code = 403


class DatabaseUnavailableError(AppError):
    """The database cannot be reached with the configured URL."""

    status_code = 503
