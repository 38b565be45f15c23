"""Directory-based model registry: versions, ACTIVE pointer and rollback."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.model import BlockClassifier
from classifier.registry import ModelNotFoundError, ModelRegistry


def test_empty_registry(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "models")
    assert registry.list_versions() == []
    assert registry.active_version() is None
    with pytest.raises(ModelNotFoundError):
        registry.load_active()
    with pytest.raises(ModelNotFoundError):
        registry.rollback()


def test_save_rollback_and_keep_versions(tmp_path: Path, tiny_model: BlockClassifier) -> None:
    registry = ModelRegistry(tmp_path / "models")
    first = registry.save_new(tiny_model)
    second = registry.save_new(tiny_model)
    v1, v2 = first.name, second.name
    assert v1.endswith("-1") and v2.endswith("-2")
    assert registry.list_versions() == [v1, v2]
    assert registry.active_version() == v2
    assert (tmp_path / "models" / "ACTIVE").read_text().strip() == v2
    assert registry.load_active().metadata.version == v2
    assert registry.metadata(v2)["version"] == v2

    assert registry.rollback() == v1
    assert registry.active_version() == v1
    assert registry.load_active().metadata.version == v1
    assert registry.list_versions() == [v1, v2]  # nothing deleted
    with pytest.raises(ModelNotFoundError):
        registry.rollback()


def test_versions_sort_numerically(tmp_path: Path, tiny_model: BlockClassifier) -> None:
    registry = ModelRegistry(tmp_path)
    for _ in range(11):
        registry.save_new(tiny_model)
    versions = registry.list_versions()
    assert versions[-1].endswith("-11") and versions[-2].endswith("-10")
