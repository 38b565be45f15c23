"""`/api/v1/sources` (admins only, never a secret) and `/api/v1/classifier` (the active model)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from classifier.model import BlockClassifier
from classifier.registry import ModelRegistry
from classifier.train import train_classifier
from config.settings import PROJECT_ROOT, Settings
from core.models import Source
from tests.integration.web.conftest import Web, WebWorld
from web.app import create_app

SECRET = "vk1.a.SECRET-TOKEN-never-shown"
BLOCKS = ("roads", "housing", "waste", "energy")
HANDWRITTEN = PROJECT_ROOT / "classifier" / "data" / "handwritten.csv"


@lru_cache(maxsize=1)
def tiny_model() -> BlockClassifier:
    """A real classifier trained on 40 hand-written rows (10 of each of four blocks)."""
    with HANDWRITTEN.open(encoding="utf-8", newline="") as fh:
        rows = [(r["text"], r["block"]) for r in csv.DictReader(fh)]
    picked = [row for block in BLOCKS for row in [r for r in rows if r[1] == block][:10]]
    assert len(picked) == 40
    return train_classifier(picked, blocks=BLOCKS, cv_folds=2)


@pytest.fixture
def models_web(web_world: WebWorld) -> Iterator[tuple[Web, Path]]:
    """The application with an empty models directory of its own."""
    models = web_world.tmp / "models"
    settings = Settings(secret_key="test-secret", var_dir=web_world.tmp, models_dir=models)
    app = create_app(settings, engine=web_world.session.get_bind())  # type: ignore[arg-type]
    with TestClient(app) as client:
        yield Web(client=client, world=web_world), models


def test_sources_health_is_for_admins_only_and_never_shows_the_secret(web: Web) -> None:
    world = web.world
    assert world.source is not None
    world.source.secret = SECRET
    world.source.status = "error"
    world.source.last_error = "HTTP 500"
    world.source.last_error_at = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
    world.source.error_count = 3
    world.session.add(Source(name="portal", kind="portal", secret=SECRET, enabled=False))
    world.session.commit()

    assert web.client.get("/api/v1/sources").status_code == 401
    web.login("operator")
    assert web.client.get("/api/v1/sources").status_code == 403
    web.login("admin")
    response = web.client.get("/api/v1/sources")
    assert response.status_code == 200
    assert SECRET not in response.text and "secret" not in response.text
    items = {item["name"]: item for item in response.json()["items"]}
    assert set(items) == {"vk-test", "portal"}
    vk = items["vk-test"]
    assert (vk["kind"], vk["enabled"], vk["status"]) == ("vk", True, "error")
    assert (vk["last_error"], vk["errors"]) == ("HTTP 500", 3)
    assert vk["last_error_at"].startswith("2026-11-20T03:00:00")
    assert items["portal"]["enabled"] is False
    expected = {"name", "kind", "enabled", "status", "paused_until", "last_success_at"}
    expected |= {"last_error_at", "last_error", "fetched", "stored", "errors"}
    assert set(vk) == expected


def test_classifier_api_without_a_model_is_a_404_in_russian(
    models_web: tuple[Web, Path],
) -> None:
    web, _models = models_web
    assert web.client.get("/api/v1/classifier").status_code == 401
    web.login("head")
    response = web.client.get("/api/v1/classifier")
    assert response.status_code == 404
    assert "модель классификатора не найдена" in response.json()["detail"].lower()
    web.login("operator")
    assert "Модель классификатора: нет активной" in web.client.get("/triage").text


def test_classifier_api_and_triage_show_the_saved_model(models_web: tuple[Web, Path]) -> None:
    web, models = models_web
    folder = ModelRegistry(models).save_new(tiny_model())
    version = folder.name
    web.login("exec_gkh")  # any signed-in staff member may read it
    body = web.client.get("/api/v1/classifier").json()
    assert body["version"] == version
    assert body["metadata"]["version"] == version
    assert body["metadata"]["blocks"] == list(BLOCKS)
    assert body["metadata"]["n_train"] == 40
    web.login("operator")
    assert f"Модель классификатора: {version}" in web.client.get("/triage").text
