"""`GET /api/v1/sources` (admins: each source's health) and `GET /api/v1/classifier`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from classifier.registry import ModelRegistry
from collectors.health import source_health
from web.deps import Ctx, CurrentUser, DbSession, require
from web.repository import accounts

router = APIRouter(prefix="/api/v1", tags=["состояние"])

NO_MODEL = "Активная модель классификатора не найдена: обучите её командой «mcu classifier train»."


def active_model(models_dir: Path) -> tuple[str, dict[str, object]] | None:
    """The active classifier version and its metadata.json, or None when there is none."""
    registry = ModelRegistry(models_dir)
    version = registry.active_version()
    return None if version is None else (version, registry.metadata(version))


def active_model_version(models_dir: Path) -> str | None:
    """Just the active version (what the pages show)."""
    return ModelRegistry(models_dir).active_version()


@router.get("/sources", dependencies=[require("admin")], response_model=None)
def sources(session: DbSession) -> JSONResponse:
    """Every source's health: state, last success and error, counters (never the secret)."""
    items: list[dict[str, Any]] = [source_health(s) for s in accounts.sources(session)]
    return JSONResponse({"items": items})


@router.get("/classifier", response_model=None)
def classifier(_user: CurrentUser, ctx: Ctx) -> JSONResponse:
    """The active classifier model's version and metadata (404 when none is active)."""
    found = active_model(ctx.settings.models_dir)
    if found is None:
        return JSONResponse({"detail": NO_MODEL}, status_code=404)
    version, metadata = found
    return JSONResponse({"version": version, "metadata": metadata})
