"""The classifier CLI against a tiny model in a temporary registry."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from app.cli_classifier import classifier_app
from classifier.model import BlockClassifier
from classifier.registry import ModelRegistry


def test_eval_json(tmp_path: Path, tiny_model: BlockClassifier) -> None:
    models = tmp_path / "models"
    ModelRegistry(models).save_new(tiny_model)
    data = tmp_path / "eval.csv"
    data.write_text(
        "text,block\nяма на дороге,roads\nне горят фонари,energy\nпожар в доме,emergency\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        classifier_app, ["eval", "--data", str(data), "--json", "--models-dir", str(models)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"accuracy", "macro_f1", "per_block", "confusion", "n"}
    assert report["n"] == 3
    assert 0.0 <= report["accuracy"] <= 1.0
    assert set(report["per_block"]["roads"]) == {"precision", "recall", "f1", "support"}
    assert report["per_block"]["roads"]["support"] == 1


def test_eval_without_model_fails_clearly(tmp_path: Path) -> None:
    data = tmp_path / "eval.csv"
    data.write_text("text,block\nяма,roads\n", encoding="utf-8")
    result = CliRunner().invoke(
        classifier_app, ["eval", "--data", str(data), "--models-dir", str(tmp_path / "none")]
    )
    assert result.exit_code == 1
