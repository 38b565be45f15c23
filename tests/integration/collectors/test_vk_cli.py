"""`mcu sources add vk`, `mcu sources` and `mcu collect SOURCE --once --json` on the fake VK."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import typer
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app import cli_sources
from app.context import AppContext, load_calendar
from collectors import repository as collectors_repo
from config.reference import ReferenceConfig
from config.settings import CONFIG_DIR, Settings


@pytest.fixture
def cli_ctx(
    db_session: Session,
    fake_vk: Any,
    reference_config: ReferenceConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> AppContext:
    """`build_context()` of app.cli_sources answers with the test database and the fake VK."""
    settings = Settings(
        vk_api_base=fake_vk.url, vk_user_token=None, vk_token=None, secret_key="test"
    )
    tz = reference_config.municipality.municipality.timezone
    ctx = AppContext(
        settings=settings,
        config=reference_config,
        engine=db_session.get_bind(),  # type: ignore[arg-type]
        calendar=load_calendar(reference_config, tz=tz, config_dir=str(CONFIG_DIR)),
        tz=tz,
    )
    monkeypatch.setattr(cli_sources, "build_context", lambda *a, **k: ctx)
    return ctx


def test_cli_adds_lists_and_collects_a_vk_source(cli_ctx: AppContext, fake_vk: Any) -> None:
    runner = CliRunner()
    secret = "group-token"
    fake_vk.add_post("Нет отопления в школе", date=int(datetime.now(UTC).timestamp()) - 60)
    args = ["add", "vk", "--name", "vk-admin", "--group", str(fake_vk.group_id), "--token", secret]

    added = runner.invoke(cli_sources.sources_app, [*args, "--interval", "120"])
    listed = runner.invoke(cli_sources.sources_app, ["--json"])
    table = runner.invoke(cli_sources.sources_app, [])
    collect = typer.Typer()
    collect.command()(cli_sources.collect_command)
    collected = runner.invoke(collect, ["vk-admin", "--once", "--json"])

    assert added.exit_code == 0, added.output
    assert "vk-admin" in table.output and "vk-admin" in added.output
    assert all(secret not in r.output for r in (added, listed, table, collected))
    row = json.loads(listed.output)[0]
    assert (row["name"], row["kind"], row["status"]) == ("vk-admin", "vk", "ok")
    assert collected.exit_code == 0, collected.output
    assert json.loads(collected.output) == {"fetched": 1, "stored": 1, "duplicates": 0, "errors": 0}
    with Session(cli_ctx.engine) as session:
        source = collectors_repo.get_source(session, name="vk-admin")
        assert source is not None and source.secret == secret
        assert (source.settings["group_id"], source.interval_seconds) == (fake_vk.group_id, 120)


def test_cli_collect_of_an_unknown_source_is_one_clear_line(cli_ctx: AppContext) -> None:
    collect = typer.Typer()
    collect.command()(cli_sources.collect_command)
    result = CliRunner().invoke(collect, ["nope", "--once"])
    assert result.exit_code == 2 and "нет источника" in result.output
