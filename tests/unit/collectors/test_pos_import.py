"""ПОС export reading: header synonyms, dates, encodings and the per-row error report."""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from collectors.pos_import import (
    PosFormatError,
    PosRow,
    RowError,
    match_columns,
    normalize_header,
    open_pos_file,
    parse_date,
)

TZ = "Asia/Vladivostok"
HEADER = [
    "Номер", "Дата создания", "Категория", "Подкатегория", "Текст", "Стадия", "Просрочено",
    "Организация", "Ссылка", "Адрес",
]  # fmt: skip
GOOD = [
    "1001", "20.11.2026 10:05", "Дороги", "Ямы", "Яма на дороге", "Рассмотрено", "Нет",
    "Администрация", "https://pos.gosuslugi.ru/1001", "Амурзет, ул. Ленина 5",
]  # fmt: skip


def _xlsx(path: Path, rows: list[list[Any]], *, sheet: str = "Sheet0") -> Path:
    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.title = sheet
    for row in rows:
        ws.append(row)
    book.save(path)
    return path


def _csv(path: Path, rows: list[list[str]], *, encoding: str, sep: str = ";") -> Path:
    text = "\r\n".join(sep.join(f'"{c}"' if sep in c or "\n" in c else c for c in r) for r in rows)
    path.write_bytes(text.encode(encoding))
    return path


def _read(path: Path) -> tuple[Any, list[PosRow]]:
    with open_pos_file(path, source="pos", tz=TZ, secret="s") as pos:
        return pos, list(pos.rows)


def _row(**changes: str) -> list[str]:
    row = list(GOOD)
    for name, value in changes.items():
        row[HEADER.index(name)] = value
    return row


def test_headers_match_case_space_and_synonyms() -> None:
    assert normalize_header("  ДАТА\u00a0 создания: ") == "дата создания"
    assert normalize_header("Просрочено*") == "просрочено"
    found = match_columns(["№ обращения", "Дата поступления", "ТЕКСТ  ОБРАЩЕНИЯ", "Статус", "x"])
    assert found == {"number": 0, "date": 1, "text": 2, "stage": 3}
    assert match_columns(["Текст", "Описание"]) == {"text": 0}  # the first one wins


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("20.11.2026 10:05", datetime(2026, 11, 20, 0, 5, tzinfo=UTC)),
        ("20.11.2026 10:05:30", datetime(2026, 11, 20, 0, 5, 30, tzinfo=UTC)),
        ("20.11.2026", datetime(2026, 11, 19, 14, 0, tzinfo=UTC)),
        ("2026-11-20T10:05:00+03:00", datetime(2026, 11, 20, 7, 5, tzinfo=UTC)),
        ("2026-11-20 10:05", datetime(2026, 11, 20, 0, 5, tzinfo=UTC)),
        (datetime(2026, 11, 20, 10, 5), datetime(2026, 11, 20, 0, 5, tzinfo=UTC)),
        (46346.5, datetime(2026, 11, 20, 2, 0, tzinfo=UTC)),  # an unformatted Excel serial
    ],
)
def test_dates_in_every_export_form(value: Any, expected: datetime) -> None:
    parsed = parse_date(value, tz=ZoneInfo(TZ))
    assert parsed == expected


@pytest.mark.parametrize("value", ["31.02.2026 10:00", "вчера", "", None, 0.25, True])
def test_unreadable_dates_are_none(value: Any) -> None:
    assert parse_date(value, tz=ZoneInfo(TZ)) is None


def test_xlsx_keeps_good_rows_and_reports_bad_ones(tmp_path: Path) -> None:
    rows: list[list[Any]] = [
        ["Выгрузка обращений ПОС за ноябрь"],  # a title row above the header
        HEADER,
        GOOD,
        _row(Номер="1002", **{"Дата создания": "31.02.2026"}),
        _row(Номер="1003", Текст="   "),
        [None] * len(HEADER),
        _row(Номер="1004", Просрочено="Может быть", Текст="<b>Нет воды</b>"),
        [1005.0, datetime(2026, 11, 21, 9, 0), "ЖКХ", None, "  Текст с пробелами  ", None, "Да"],
    ]
    pos, parsed = _read(_xlsx(tmp_path / "pos.xlsx", rows))
    assert (pos.format, pos.sheet, pos.encoding) == ("xlsx", "Sheet0", None)
    assert pos.columns["date"] == "Дата создания" and pos.columns["number"] == "Номер"
    kept = {r.message.external_id: r.message for r in parsed if r.message}
    assert sorted(kept) == ["1001", "1004", "1005"]
    errors = [e for r in parsed for e in r.errors]
    assert errors == [
        RowError(4, "дата", "не удалось разобрать дату «31.02.2026»"),
        RowError(5, "текст", "пустой текст обращения"),
        RowError(7, "просрочено", "ожидается Да/Нет, а не «может быть»", skipped=False),
    ]
    first = kept["1001"]
    assert first.created_at == datetime(2026, 11, 20, 0, 5, tzinfo=UTC)
    assert (
        first.url == "https://pos.gosuslugi.ru/1001" and first.place_text == "Амурзет, ул. Ленина 5"
    )
    assert first.extra == {
        "category": "Дороги", "subcategory": "Ямы", "stage": "Рассмотрено",
        "organisation": "Администрация", "overdue": False,
    }  # fmt: skip
    assert kept["1004"].text == "<b>Нет воды</b>" and kept["1004"].extra["overdue"] is None
    assert kept["1005"].text == "Текст с пробелами" and kept["1005"].extra["overdue"] is True


def test_xlsx_picks_the_sheet_that_has_the_columns(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "Сводка"
    summary.append(["Всего", 2])
    data = book.create_sheet("Sheet0")
    for row in (HEADER, GOOD):
        data.append(row)
    book.save(tmp_path / "two.xlsx")
    pos, parsed = _read(tmp_path / "two.xlsx")
    assert pos.sheet == "Sheet0" and [r.message.external_id for r in parsed if r.message] == [
        "1001"
    ]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp1251", "koi8-r"])
def test_csv_encodings_are_detected_and_named(tmp_path: Path, encoding: str) -> None:
    path = _csv(tmp_path / "pos.csv", [HEADER, GOOD], encoding=encoding)
    pos, parsed = _read(path)
    assert pos.encoding == {"utf-8": "utf-8-sig"}.get(encoding, encoding)
    assert [r.message.text for r in parsed if r.message] == ["Яма на дороге"]


def test_csv_comma_separated_with_a_multiline_quoted_text(tmp_path: Path) -> None:
    rows = [HEADER, _row(Текст="Яма,\nбольшая\x00"), _row(Номер="1002", **{"Дата создания": "x"})]
    _, parsed = _read(_csv(tmp_path / "pos.csv", rows, encoding="utf-8", sep=","))
    assert parsed[0].message is not None and parsed[0].message.text == "Яма,\nбольшая"
    assert parsed[1].errors == (RowError(4, "дата", "не удалось разобрать дату «x»"),)


def test_a_row_in_another_encoding_is_reported_the_rest_kept(tmp_path: Path) -> None:
    lines = [";".join(HEADER), ";".join(GOOD), ";".join(_row(Номер="1002"))]
    data = b"\r\n".join([lines[0].encode(), lines[1].encode("cp1251"), lines[2].encode()])
    (tmp_path / "mixed.csv").write_bytes(data)
    pos, parsed = _read(tmp_path / "mixed.csv")
    assert pos.encoding == "utf-8-sig"
    assert parsed[0].errors == (RowError(2, None, "строка не читается в кодировке utf-8-sig"),)
    assert [r.message.external_id for r in parsed if r.message] == ["1002"]


def test_unknown_encoding_is_a_clear_file_error(tmp_path: Path) -> None:
    path = _csv(tmp_path / "pos.csv", [HEADER, GOOD], encoding="utf-16")
    with pytest.raises(PosFormatError, match=r"кодировка не распознана.*utf-8-sig, cp1251, koi8-r"):
        _read(path)


def test_missing_columns_are_named(tmp_path: Path) -> None:
    header = [h for h in HEADER if h != "Текст"]
    with pytest.raises(PosFormatError, match="нет обязательных колонок: «текст»") as caught:
        _read(_xlsx(tmp_path / "pos.xlsx", [header]))
    assert "«Дата создания»" in str(caught.value)
    path = _csv(tmp_path / "pos.csv", [["Номер", "Категория"], ["1", "x"]], encoding="cp1251")
    with pytest.raises(PosFormatError, match="«дата», «текст»"):
        _read(path)


def test_files_that_are_not_xlsx(tmp_path: Path) -> None:
    (tmp_path / "fake.xlsx").write_text("Номер;Дата;Текст\n1;2;3\n", encoding="utf-8")
    with pytest.raises(PosFormatError, match="не является книгой Excel"):
        _read(tmp_path / "fake.xlsx")
    with zipfile.ZipFile(tmp_path / "zip.xlsx", "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    with pytest.raises(PosFormatError, match="не является книгой Excel"):
        _read(tmp_path / "zip.xlsx")
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100)
    with pytest.raises(PosFormatError, match=r"старом формате Excel \(\.xls\)"):
        _read(tmp_path / "old.xls")
