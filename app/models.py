"""The classifier and gazetteer as the running service uses them (cached per process)."""

from __future__ import annotations

from typing import Any

from app import repository as app_repo
from app.context import AppContext
from classifier.model import BlockClassifier, Prediction
from classifier.place import Gazetteer, Match, extract_place
from classifier.registry import ModelRegistry
from classifier.train import train_active
from core.db import session_scope


class ActiveModel:
    """The active model with its version and the configured review threshold."""

    def __init__(self, model: BlockClassifier, *, threshold: float) -> None:
        self.model = model
        self.version = model.metadata.version
        self.threshold = threshold

    def predict_many(self, texts: list[str]) -> list[Prediction]:
        return self.model.predict_many(texts, threshold=self.threshold)


def active_classifier(ctx: AppContext) -> ActiveModel | None:
    """The active model, reloaded when `mcu classifier train/rollback` switched versions."""
    registry = ModelRegistry(ctx.settings.models_dir)
    version = registry.active_version()
    if version is None:
        return None
    cached: ActiveModel | None = ctx.cache.get("classifier")
    if cached is None or cached.version != version:
        cached = ActiveModel(registry.load(version), threshold=ctx.settings.review_threshold)
        ctx.cache["classifier"] = cached
    return cached


class PlaceFinder:
    """Gazetteer-backed place extraction returning plain dicts for the classification row."""

    def __init__(self, gazetteer: Gazetteer) -> None:
        self.gazetteer = gazetteer

    def extract(self, text: str) -> dict[str, Any]:
        place = extract_place(text, self.gazetteer)
        out: dict[str, Any] = {}
        for key in ("settlement", "street", "house"):
            match: Match | None = getattr(place, key)
            out[key] = (
                {"value": match.value, "start": match.start, "end": match.end} if match else None
            )
        return out


def gazetteer(ctx: AppContext) -> PlaceFinder:
    """The municipality's gazetteer from config/gazetteer.yaml."""
    finder: PlaceFinder | None = ctx.cache.get("gazetteer")
    if finder is None:
        finder = PlaceFinder(Gazetteer.from_mapping(ctx.config.gazetteer))
        ctx.cache["gazetteer"] = finder
    return finder


def operator_examples(ctx: AppContext) -> list[tuple[str, str]]:
    """Every block correction operators made, as training pairs."""
    with session_scope(ctx.engine) as session:
        return app_repo.operator_examples(session)


def train_and_activate(ctx: AppContext) -> str:
    """Retrain on the shipped corpus plus operator corrections; return the new version."""
    metadata = train_active(
        models_dir=ctx.settings.models_dir,
        extra_examples=operator_examples(ctx),
        blocks=ctx.config.block_codes,
    )
    return metadata.version


def ensure_classifier(ctx: AppContext, *, progress: bool = False) -> str | None:
    """Train the default model when none is active; return its version if trained."""
    if ModelRegistry(ctx.settings.models_dir).active_version() is not None:
        return None
    if progress:
        from rich.console import Console

        Console().print("Обучение классификатора (первый запуск, около минуты)…")
    return train_and_activate(ctx)
