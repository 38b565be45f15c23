"""Bad configuration stops start-up with one message naming the file and the field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config.errors import ConfigError
from config.reference import load_reference
from config.settings import CONFIG_DIR, Settings


@pytest.fixture
def config_copy(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, target, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text {old!r} not found in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_default_config_loads_with_all_blocks() -> None:
    cfg = load_reference(CONFIG_DIR)
    assert cfg.block_codes == [
        "roads",
        "housing",
        "energy",
        "waste",
        "transport",
        "construction",
        "economy",
        "consumer",
        "agriculture",
        "property",
        "social",
        "emergency",
        "other",
    ]
    assert cfg.municipality.municipality.timezone == "Asia/Vladivostok"
    assert {p.code for p in cfg.sla.policies} == {"social_high", "social_normal", "portal", "fz59"}
    assert cfg.gazetteer["settlements"], "the gazetteer lists settlements"


def test_unknown_block_in_routing_names_file_and_field(config_copy: Path) -> None:
    _edit(
        config_copy / "municipality.yaml",
        "{block: roads, department: roads_transport}",
        "{block: dorogi, department: roads_transport}",
    )
    with pytest.raises(ConfigError) as info:
        load_reference(config_copy)
    assert info.value.file.endswith("municipality.yaml")
    assert info.value.field.startswith("routing.") and info.value.field.endswith(".block")
    assert "dorogi" in str(info.value)


def test_invalid_time_zone_in_yaml(config_copy: Path) -> None:
    _edit(config_copy / "municipality.yaml", "timezone: Asia/Vladivostok", "timezone: Mars/Olympus")
    with pytest.raises(ConfigError) as info:
        load_reference(config_copy)
    assert info.value.field == "municipality.timezone"
    assert "Mars/Olympus" in str(info.value)


def test_invalid_time_zone_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCU_TIMEZONE", "Europe/Atlantis")
    with pytest.raises(ValueError, match="Europe/Atlantis"):
        Settings()


def test_malformed_yaml_names_file_and_line(config_copy: Path) -> None:
    (config_copy / "sla.yaml").write_text("policies:\n  - code: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_reference(config_copy)
    assert info.value.file.endswith("sla.yaml")
    assert info.value.field.startswith("строка")


def test_unknown_key_is_refused(config_copy: Path) -> None:
    _edit(config_copy / "rating.yaml", "min_incidents: 2", "min_incidentz: 2")
    with pytest.raises(ConfigError) as info:
        load_reference(config_copy)
    assert info.value.file.endswith("rating.yaml")
    assert info.value.field == "min_incidentz"


def test_missing_file_is_named(config_copy: Path) -> None:
    (config_copy / "gazetteer.yaml").unlink()
    with pytest.raises(ConfigError, match=r"gazetteer\.yaml"):
        load_reference(config_copy)


def test_sla_assignment_must_name_a_policy(config_copy: Path) -> None:
    _edit(config_copy / "sla.yaml", "vk: {normal: social_normal", "vk: {normal: social_slow")
    with pytest.raises(ConfigError) as info:
        load_reference(config_copy)
    assert info.value.field == "assignment.vk.normal"
