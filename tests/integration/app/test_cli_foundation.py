"""The `mcu` command: help, and bad configuration reported in one clear line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from config.settings import CONFIG_DIR, get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def fresh_settings() -> None:
    get_settings.cache_clear()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "web", "worker", "db", "demo", "user", "sources"):
        assert command in result.output


def test_malformed_yaml_stops_with_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (config / "municipality.yaml").write_text("blocks: [\n", encoding="utf-8")
    monkeypatch.setenv("MCU_CONFIG_DIR", str(config))
    monkeypatch.setenv("MCU_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 2
    assert "municipality.yaml" in result.output and "строка" in result.output
    assert "Traceback" not in result.output


def test_unreachable_database_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCU_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 2
    assert "база данных недоступна" in result.output
    assert "127.0.0.1:1" in result.output
    assert "Traceback" not in result.output


def test_db_upgrade_and_seed_on_a_fresh_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCU_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    seeded = runner.invoke(cli, ["db", "seed"])
    assert seeded.exit_code == 0, seeded.output
    assert "blocks=13" in seeded.output
