"""Directory-based model store: one folder per version and an ACTIVE pointer file."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from classifier.model import BlockClassifier

MODEL_FILE = "model.joblib"
METADATA_FILE = "metadata.json"
ACTIVE_FILE = "ACTIVE"
_VERSION = re.compile(r"^(\d{4}\.\d{2}\.\d{2})-(\d+)$")


class ModelNotFoundError(LookupError):
    """No model is active, or the requested version is missing."""


def _version_key(version: str) -> tuple[str, int]:
    match = _VERSION.match(version)
    return (match.group(1), int(match.group(2))) if match else (version, 0)


class ModelRegistry:
    """Saves versions side by side under root and points ACTIVE at one of them."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def list_versions(self) -> list[str]:
        """Saved versions, oldest first."""
        if not self.root.is_dir():
            return []
        found = [p.name for p in self.root.iterdir() if (p / MODEL_FILE).is_file()]
        return sorted(found, key=_version_key)

    def active_version(self) -> str | None:
        """The version ACTIVE points at, if any."""
        pointer = self.root / ACTIVE_FILE
        if not pointer.is_file():
            return None
        version = pointer.read_text(encoding="utf-8").strip()
        return version if (self.root / version / MODEL_FILE).is_file() else None

    def _next_version(self) -> str:
        today = f"{datetime.now(UTC):%Y.%m.%d}"
        same_day = [_version_key(v)[1] for v in self.list_versions() if v.startswith(today + "-")]
        return f"{today}-{max(same_day, default=0) + 1}"

    def _activate(self, version: str) -> None:
        tmp = self.root / f".{ACTIVE_FILE}.tmp"
        tmp.write_text(version + "\n", encoding="utf-8")
        os.replace(tmp, self.root / ACTIVE_FILE)  # atomic: readers never see a half-written file

    def save_new(self, model: BlockClassifier) -> Path:
        """Store a model as the next version and make it active; older versions stay."""
        version = self._next_version()
        model.metadata = replace(model.metadata, version=version)
        folder = self.root / version
        folder.mkdir(parents=True, exist_ok=False)
        model.save(folder / MODEL_FILE)
        metadata = json.dumps(model.metadata.to_dict(), ensure_ascii=False, indent=2)
        (folder / METADATA_FILE).write_text(metadata, encoding="utf-8")
        self._activate(version)
        return folder

    def load(self, version: str) -> BlockClassifier:
        """Load one stored version."""
        path = self.root / version / MODEL_FILE
        if not path.is_file():
            raise ModelNotFoundError(f"model version {version!r} not found in {self.root}")
        return BlockClassifier.load(path)

    def load_active(self) -> BlockClassifier:
        """Load the active model."""
        version = self.active_version()
        if version is None:
            raise ModelNotFoundError(f"no active model in {self.root}")
        return self.load(version)

    def metadata(self, version: str) -> dict[str, object]:
        """The metadata.json of a stored version."""
        path = self.root / version / METADATA_FILE
        return dict(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else {}

    def rollback(self) -> str:
        """Point ACTIVE at the version saved before the active one and return it."""
        versions = self.list_versions()
        active = self.active_version()
        if active is None or active not in versions:
            raise ModelNotFoundError(f"no active model in {self.root}")
        position = versions.index(active)
        if position == 0:
            raise ModelNotFoundError(f"no version older than {active} to roll back to")
        previous = versions[position - 1]
        self._activate(previous)
        return previous
