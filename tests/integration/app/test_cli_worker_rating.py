"""`mcu worker --once`, `mcu demo load` and `mcu rating` on a fresh SQLite file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from app.cli import cli
from config.settings import get_settings

runner = CliRunner()


@pytest.fixture
def fresh_db(tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Environment of a newcomer's machine: an empty SQLite file and a trained model."""
    monkeypatch.setenv("MCU_DATABASE_URL", f"sqlite:///{tmp_path / 'mcu.db'}")
    monkeypatch.setenv("MCU_MODELS_DIR", str(models_dir))
    monkeypatch.setenv("MCU_DEMO_RATE_PER_MINUTE", "60")
    get_settings.cache_clear()
    for args in (["db", "upgrade"], ["db", "seed"]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
    yield tmp_path
    get_settings.cache_clear()


def test_worker_once_runs_every_job(fresh_db: Path) -> None:
    result = runner.invoke(cli, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "demo_stream" in result.output and "'stored': 3" in result.output
    assert "process_messages" in result.output and "'processed': 3" in result.output
    assert "escalation" in result.output
    sources = runner.invoke(cli, ["sources", "--json"])
    rows = json.loads(sources.output)
    assert {row["name"] for row in rows} >= {"demo"}
    assert sum(row["stored"] for row in rows if row["name"] != "demo") == 3


def test_demo_history_gives_a_ranking_and_reports(fresh_db: Path) -> None:
    loaded = runner.invoke(cli, ["demo", "load", "--days", "14"])
    assert loaded.exit_code == 0, loaded.output
    assert "инцидентов всего" in loaded.output
    computed = runner.invoke(cli, ["rating", "compute", "--json"])
    assert computed.exit_code == 0, computed.output
    body = json.loads(computed.output)
    assert body["week"].count("-W") == 1
    ranked = [u for u in body["units"] if u["rank"] is not None]
    assert ranked, "the demo history ranks at least one department"
    assert all(0 <= u["index"] <= 100 for u in ranked)
    assert sorted(u["rank"] for u in ranked) == list(range(1, len(ranked) + 1))
    for fmt in ("xlsx", "pdf", "html"):
        out = fresh_db / f"report.{fmt}"
        made = runner.invoke(cli, ["rating", "report", "--format", fmt, "--out", str(out)])
        assert made.exit_code == 0, made.output
        assert out.stat().st_size > 0
    assert (fresh_db / "report.pdf").read_bytes().startswith(b"%PDF")
    assert "Рейтинг отделов" in (fresh_db / "report.html").read_text(encoding="utf-8")
    assert "Сводка" in load_workbook(fresh_db / "report.xlsx").sheetnames


def test_bad_week_is_one_clear_line(fresh_db: Path) -> None:
    result = runner.invoke(cli, ["rating", "compute", "--week", "2026-W99"])
    assert result.exit_code == 2
    assert "недели 99" in result.output
