"""A source's health as plain data, for `mcu sources` and the API."""

from __future__ import annotations

from typing import Any

from core.models import Source


def source_health(source: Source) -> dict[str, Any]:
    """Name, kind, state and counters of one source (never its secret)."""
    return {
        "name": source.name,
        "kind": source.kind,
        "enabled": source.enabled,
        "status": source.status,
        "paused_until": source.paused_until.isoformat() if source.paused_until else None,
        "last_success_at": source.last_success_at.isoformat() if source.last_success_at else None,
        "last_error_at": source.last_error_at.isoformat() if source.last_error_at else None,
        "last_error": source.last_error,
        "fetched": source.fetched_count,
        "stored": source.stored_count,
        "errors": source.error_count,
    }
