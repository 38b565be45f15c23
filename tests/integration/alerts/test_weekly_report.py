"""The Monday job writes the PDF/XLSX; delivery sends the head the text, then the PDF file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from app import pipeline
from app.context import AppContext
from app.jobs import run_once_per_occurrence
from core.models import AlertOutbox
from tests.integration.alerts.conftest import FakeClock, World
from tests.integration.alerts.fake_bot_api import SERVER_ERROR, FakeBotApi
from tests.integration.alerts.test_delivery import deliver

MONDAY = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # Monday 10:00 in Vladivostok
WEEK = "2026-W47"
GLAVA_CHAT = 3001


def weekly_row(world: World, app_ctx: AppContext) -> AlertOutbox:
    """Run the Monday job once for a linked head; the row it queued."""
    world.add_user("glava", "head", chat=GLAVA_CHAT)
    result = run_once_per_occurrence(
        app_ctx, "weekly_rating", WEEK, pipeline.weekly_rating, now=MONDAY
    )
    assert result["sent_to"] == 1
    world.session.expire_all()
    row = world.session.scalar(select(AlertOutbox).where(AlertOutbox.kind == "weekly_rating"))
    assert row is not None
    return row


def test_the_job_writes_pdf_and_xlsx_and_names_them_in_the_payload(
    world: World, app_ctx: AppContext
) -> None:
    row = weekly_row(world, app_ctx)
    folder = app_ctx.settings.var_dir / "reports"
    assert row.payload["report_pdf"] == str(folder / f"rating-{WEEK}.pdf")
    assert row.payload["report_xlsx"] == str(folder / f"rating-{WEEK}.xlsx")
    assert Path(row.payload["report_pdf"]).read_bytes().startswith(b"%PDF")
    assert Path(row.payload["report_xlsx"]).read_bytes().startswith(b"PK")  # a zip
    assert sorted(p.name for p in folder.iterdir()) == [f"rating-{WEEK}.pdf", f"rating-{WEEK}.xlsx"]


def test_the_head_gets_the_text_then_the_pdf_as_a_document(
    world: World, app_ctx: AppContext, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    row = weekly_row(world, app_ctx)

    stats = deliver(world, clock, now=MONDAY)

    assert stats.sent == 1
    assert [c.method for c in fake_api.calls] == ["sendMessage", "sendDocument"]
    text, document = fake_api.calls
    assert text.params["chat_id"] == document.params["chat_id"] == GLAVA_CHAT
    assert f"Рейтинг отделов за неделю {WEEK}" in text.params["text"]
    assert f'https://mcu.example.ru/rating/{WEEK}.xlsx">XLSX</a>' in text.params["text"]
    upload = document.params["document"]
    assert upload["filename"] == f"rating-{WEEK}.pdf"
    assert upload["data"] == Path(row.payload["report_pdf"]).read_bytes()
    assert WEEK in document.params["caption"]
    assert world.row(row.id).status == "sent"


def test_a_failed_upload_is_retried_without_repeating_the_text(
    world: World, app_ctx: AppContext, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    row = weekly_row(world, app_ctx)
    fake_api.fail_next("sendDocument", SERVER_ERROR)

    assert deliver(world, clock, now=MONDAY).failed == 1
    held = world.row(row.id)
    assert (held.status, held.payload["text_sent"]) == ("failed", True)

    assert deliver(world, clock, now=held.next_attempt_at).sent == 1
    assert len(fake_api.sent()) == 1  # the text went out once
    assert len(fake_api.documents()) == 1
    assert world.row(row.id).status == "sent"


def test_without_the_file_only_the_text_is_sent(
    world: World, app_ctx: AppContext, fake_api: FakeBotApi, clock: FakeClock
) -> None:
    row = weekly_row(world, app_ctx)
    Path(row.payload["report_pdf"]).unlink()

    assert deliver(world, clock, now=MONDAY + timedelta(minutes=1)).sent == 1
    assert [c.method for c in fake_api.calls] == ["sendMessage"]
