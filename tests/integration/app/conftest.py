"""An AppContext on the test database with a small classifier trained on the hand-written set."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from app.context import AppContext, load_calendar
from classifier.registry import ModelRegistry
from classifier.train import train_classifier
from config.reference import ReferenceConfig
from config.settings import CONFIG_DIR, Settings

HANDWRITTEN = Path(__file__).resolve().parents[3] / "classifier" / "data" / "handwritten.csv"


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory, reference_config: ReferenceConfig) -> Path:
    """A model registry holding one model trained on the hand-written examples."""
    with HANDWRITTEN.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    model = train_classifier(
        [(r["text"], r["block"]) for r in rows],
        blocks=reference_config.block_codes,
        urgent=[r["urgent"] == "1" for r in rows],
        cv_folds=2,
    )
    root = tmp_path_factory.mktemp("models")
    ModelRegistry(root).save_new(model)
    return root


@pytest.fixture
def app_ctx(
    seeded_session: Session, reference_config: ReferenceConfig, models_dir: Path, tmp_path: Path
) -> AppContext:
    """The composition root as `mcu worker` builds it, on the test database."""
    settings = Settings(
        models_dir=models_dir,
        var_dir=tmp_path / "var",  # reports and uploads stay out of the repository
        secret_key="test",
        demo_rate_per_minute=60,
    )
    tz = reference_config.municipality.municipality.timezone
    return AppContext(
        settings=settings,
        config=reference_config,
        engine=seeded_session.get_bind(),  # type: ignore[arg-type]
        calendar=load_calendar(reference_config, tz=tz, config_dir=str(CONFIG_DIR)),
        tz=tz,
    )
