"""`mcu sla due` prints deadlines with the municipality's offset; an empty database is named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from config.settings import get_settings

runner = CliRunner()


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("MCU_DATABASE_URL", f"sqlite:///{tmp_path / 'sla.db'}")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def _due(policy: str, received: str) -> str:
    result = runner.invoke(cli, ["sla", "due", "--policy", policy, "--received", received])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_deadlines_of_every_default_policy(database: Path) -> None:
    for args in (["db", "upgrade"], ["db", "seed"]):
        assert runner.invoke(cli, args).exit_code == 0
    # Friday 17:30: half an hour that day, then 3.5 h from Monday 09:00 (weekend skipped).
    assert _due("social_high", "2025-12-26T17:30:00+10:00") == "2025-12-29T12:30:00+10:00"
    # Received in UTC, printed in the municipality's offset.
    assert _due("social_normal", "2026-11-20T02:00:00+00:00") == "2026-11-23T12:00:00+10:00"
    # 10 working days after Friday 20.11.2026: Friday 04.12.2026, end of day.
    assert _due("portal", "2026-11-20T12:00:00+10:00") == "2026-12-04T18:00:00+10:00"
    # 30 calendar days land on Sunday 20.12.2026: the end of Monday 21.12.2026.
    assert _due("fz59", "2026-11-20T12:00:00+10:00") == "2026-12-21T18:00:00+10:00"


def test_bad_input_is_one_clear_line(database: Path) -> None:
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    runner.invoke(cli, ["db", "seed"])
    cases = {
        ("nope", "2026-11-20T12:00:00+10:00"): "nope",
        ("portal", "2026-11-20T12:00:00"): "нет смещения",
        ("portal", "вчера"): "ISO 8601",
    }
    for (policy, received), expected in cases.items():
        result = runner.invoke(cli, ["sla", "due", "--policy", policy, "--received", received])
        assert result.exit_code == 2 and expected in result.output
        assert "Traceback" not in result.output


def test_an_unmigrated_database_asks_for_db_upgrade(database: Path) -> None:
    result = runner.invoke(
        cli, ["sla", "due", "--policy", "portal", "--received", "2026-11-20T12:00:00+10:00"]
    )
    assert result.exit_code == 2
    assert "mcu db upgrade" in result.output
