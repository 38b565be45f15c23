"""ПОС import into the database: idempotent, bad rows reported, via CLI and the upload API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli_portal import import_app
from collectors.apikeys import create_key
from collectors.pos_import import open_pos_file, store_rows
from collectors.repository import ensure_source
from config.settings import Settings, get_settings
from core.db import get_engine
from core.models import Message, Source
from web.api import api_router

SECRET = "test-secret"
NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
HEADER = ["Номер", "Дата", "Категория", "Подкатегория", "Текст", "Стадия", "Просрочено",
          "Организация", "Ссылка", "Адрес"]  # fmt: skip


def _row(number: str, *, date: str = "20.11.2026 10:05", text: str = "Яма на дороге") -> list[str]:
    return [number, date, "Дороги", "Ямы", text, "Рассмотрено", "Нет", "Администрация",
            f"https://pos.example/{number}", "Амурзет"]  # fmt: skip


def _xlsx(path: Path, rows: list[list[Any]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Sheet0"
    for row in [HEADER, *rows]:
        sheet.append(row)
    book.save(path)
    return path


def _sample(tmp_path: Path, count: int = 1200) -> Path:
    rows = [_row(str(1000 + i)) for i in range(count)]
    rows[10] = _row("bad-date", date="31.02.2026")
    rows[20] = _row("no-text", text=" ")
    return _xlsx(tmp_path / "pos.xlsx", rows)


def _messages(session: Session) -> list[Message]:
    session.expire_all()
    return list(session.scalars(select(Message).order_by(Message.external_id)))


def _import(session: Session, path: Path, batches: list[int]) -> dict[str, Any]:
    source = ensure_source(session, name="pos", kind="pos")
    with open_pos_file(path, source="pos", tz="Asia/Vladivostok", secret=SECRET) as pos:
        report = store_rows(
            session, source=source, rows=pos.rows, now=NOW, after_batch=batches.append
        )
    session.commit()
    return report.to_dict()


def test_import_is_idempotent_and_keeps_good_rows(db_session: Session, tmp_path: Path) -> None:
    path, batches = _sample(tmp_path), list[int]()
    first = _import(db_session, path, batches)
    assert (first["rows"], first["stored"], first["duplicates"], first["skipped"]) == (
        1200,
        1198,
        0,
        2,
    )
    assert [(e["row"], e["column"]) for e in first["errors"]] == [(12, "дата"), (22, "текст")]
    assert sum(batches) == 1200 and len(batches) == 3  # 500-message batches, then the rest
    again = _import(db_session, path, [])
    assert (again["stored"], again["duplicates"], again["skipped"]) == (0, 1198, 2)
    messages = _messages(db_session)
    assert len(messages) == 1198
    first_message = messages[0]
    assert first_message.external_id == "1000" and first_message.status == "new"
    assert first_message.created_at == datetime(2026, 11, 20, 0, 5, tzinfo=UTC)
    assert first_message.url == "https://pos.example/1000" and first_message.place_text == "Амурзет"
    source = db_session.scalars(select(Source).where(Source.name == "pos")).one()
    assert (source.kind, source.stored_count, source.fetched_count) == ("pos", 1198, 2396)


@pytest.fixture
def cli_env(db_session: Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`mcu` commands pointed at the test database."""
    url = db_session.get_bind().url.render_as_string(hide_password=False)  # type: ignore[union-attr]
    monkeypatch.setenv("MCU_DATABASE_URL", url)
    monkeypatch.setenv("MCU_SECRET_KEY", SECRET)
    get_settings.cache_clear()
    yield
    get_engine(url).dispose()
    get_settings.cache_clear()


def test_cli_import_json_report(cli_env: None, db_session: Session, tmp_path: Path) -> None:
    path = _sample(tmp_path, count=30)
    result = CliRunner().invoke(import_app, ["pos", str(path), "--source", "pos-nov", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["format"], report["sheet"], report["encoding"]) == ("xlsx", "Sheet0", None)
    assert (report["rows"], report["stored"], report["skipped"]) == (30, 28, 2)
    assert report["errors"][0] == {
        "row": 12, "column": "дата", "problem": "не удалось разобрать дату «31.02.2026»",
        "skipped": True,
    }  # fmt: skip
    assert len(_messages(db_session)) == 28


def test_cli_import_human_report_and_csv(cli_env: None, tmp_path: Path) -> None:
    text = "\r\n".join(";".join(r) for r in [HEADER, _row("1"), _row("2", text="")])
    (tmp_path / "pos.csv").write_bytes(text.encode("cp1251"))
    result = CliRunner().invoke(import_app, ["pos", str(tmp_path / "pos.csv")])
    assert result.exit_code == 0, result.output
    assert "кодировка cp1251" in result.stdout
    assert "Строк: 2, сохранено: 1, повторов: 0, пропущено с ошибками: 1." in result.stdout
    assert "пустой текст обращения" in result.stdout


def test_cli_refuses_bad_files_in_one_line(cli_env: None, tmp_path: Path) -> None:
    (tmp_path / "fake.xlsx").write_text("это не книга", encoding="utf-8")
    fake = CliRunner().invoke(import_app, ["pos", str(tmp_path / "fake.xlsx")])
    assert fake.exit_code == 2 and "не является книгой Excel" in fake.output
    assert "Traceback" not in fake.output
    _xlsx(tmp_path / "cols.xlsx", [])
    book = openpyxl.load_workbook(tmp_path / "cols.xlsx")
    book.active.delete_cols(5)
    book.save(tmp_path / "cols.xlsx")
    missing = CliRunner().invoke(import_app, ["pos", str(tmp_path / "cols.xlsx")])
    assert missing.exit_code == 2 and "нет обязательных колонок: «текст»" in missing.output


@pytest.fixture
def client(seeded_session: Session) -> TestClient:
    app = FastAPI()
    app.state.settings = Settings(secret_key=SECRET)
    app.state.engine = seeded_session.get_bind()
    app.include_router(api_router)
    return TestClient(app)


def _key(session: Session, name: str, kind: str) -> str:
    key = create_key(
        session, source=ensure_source(session, name=name, kind=kind), pepper=SECRET, now=NOW
    )
    session.commit()
    return key.key


def test_upload_endpoint(client: TestClient, seeded_session: Session, tmp_path: Path) -> None:
    pos_key, portal_key = (
        _key(seeded_session, "pos-upload", "pos"),
        _key(seeded_session, "site", "portal"),
    )
    path = _sample(tmp_path, count=25)
    files = {"file": ("pos.xlsx", path.read_bytes(), "application/octet-stream")}
    refused = client.post("/api/v1/import/pos", files=files, headers={"X-API-Key": portal_key})
    assert refused.status_code == 403
    assert client.post("/api/v1/import/pos", files=files).status_code == 401
    response = client.post("/api/v1/import/pos", files=files, headers={"X-API-Key": pos_key})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["file"], body["format"], body["rows"], body["stored"], body["skipped"]) == (
        "pos.xlsx", "xlsx", 25, 23, 2,
    )  # fmt: skip
    assert [e["row"] for e in body["errors"]] == [12, 22] and body["errors_total"] == 2
    again = client.post("/api/v1/import/pos", files=files, headers={"X-API-Key": pos_key}).json()
    assert (again["stored"], again["duplicates"]) == (0, 23)
    stored = _messages(seeded_session)
    assert {seeded_session.get_one(Source, m.source_id).name for m in stored} == {"pos-upload"}
    fake = {"file": ("pos.xlsx", b"<html><script>alert(1)</script></html>", "text/html")}
    bad = client.post("/api/v1/import/pos", files=fake, headers={"X-API-Key": pos_key})
    assert bad.status_code == 422 and "не является книгой Excel" in bad.json()["detail"]
