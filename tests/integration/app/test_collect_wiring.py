"""The scheduled collection builds the right collector per source and records failures."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.collect import collect_all, make_collector
from app.context import AppContext
from collectors.mail import ImapCollector
from collectors.repository import ensure_source, get_source
from collectors.vk import VkCollector

NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)


def test_vk_and_mail_sources_get_their_collectors(
    app_ctx: AppContext, seeded_session: Session
) -> None:
    vk = ensure_source(
        seeded_session, name="vk-amurzet", kind="vk", settings={"group_id": 1}, secret="token"
    )
    mail = ensure_source(
        seeded_session,
        name="mail",
        kind="email",
        settings={"host": "127.0.0.1", "user": "mcu"},
        secret="pw",
    )
    vk_collector = make_collector(app_ctx, vk)
    assert isinstance(vk_collector, VkCollector)
    vk_collector.close()
    assert isinstance(make_collector(app_ctx, mail), ImapCollector)


def test_collect_all_skips_demo_rows_and_records_a_broken_source(
    app_ctx: AppContext, seeded_session: Session
) -> None:
    ensure_source(seeded_session, name="demo-email", kind="email", settings={"demo": True})
    ensure_source(seeded_session, name="mail", kind="email", settings={"host": "127.0.0.1"})
    results = collect_all(app_ctx, seeded_session, NOW)
    seeded_session.commit()
    assert "demo-email" not in results
    assert results["mail"]["errors"] == 1
    broken = get_source(seeded_session, name="mail")
    assert broken is not None and broken.status == "token_dead"
    assert "пароль" in (broken.last_error or "")
