"""The one error configuration raises: it names the file and the field."""

from __future__ import annotations


class ConfigError(Exception):
    """Configuration cannot be used; the message names the file and the field."""

    def __init__(self, *, file: str, field: str, problem: str) -> None:
        self.file = file
        self.field = field
        self.problem = problem
        super().__init__(f"{file}: {field}: {problem}")
