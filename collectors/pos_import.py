"""ПОС export import: XLSX/CSV rows → RawMessage (external_id = номер) + a per-row report.

A bad row never costs the good ones: it is skipped and reported with its row number, the
column and the problem. Re-importing the same file stores nothing new (ON CONFLICT).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from collectors.base import pseudonymize
from collectors.pos_files import PosFormatError, RawTable, detect_format, open_csv, open_xlsx
from collectors.repository import record_success, store_messages
from core.models import Source
from core.types import Geo, RawMessage

__all__ = ["COLUMNS", "PosFile", "PosFormatError", "PosReport", "RowError", "open_pos_file"]

# Canonical column → header spellings seen in ПОС exports (compared after normalize_header).
COLUMNS: dict[str, tuple[str, ...]] = {
    "number": ("номер", "№", "номер обращения", "номер сообщения", "№ обращения",
               "№ сообщения", "идентификатор", "id"),
    "date": ("дата", "дата создания", "дата поступления", "дата регистрации",
             "дата и время создания", "дата обращения", "создано"),
    "category": ("категория", "тема"),
    "subcategory": ("подкатегория", "подтема"),
    "text": ("текст", "текст обращения", "текст сообщения", "описание", "содержание",
             "суть обращения"),
    "stage": ("стадия", "статус", "этап"),
    "overdue": ("просрочено", "просрочен", "просрочка"),
    "organisation": ("организация", "ответственная организация", "орган власти", "ведомство"),
    "url": ("ссылка", "ссылка на обращение", "url"),
    "address": ("адрес", "адрес проблемы", "место", "местоположение"),
    "author": ("автор", "заявитель", "фио заявителя"),
    "lat": ("широта", "lat"),
    "lon": ("долгота", "lon", "lng"),
}  # fmt: skip
REQUIRED = ("number", "date", "text")
DATE_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%d.%m.%y %H:%M", "%d.%m.%y")
YES, NO = {"да", "yes", "true", "1", "+"}, {"нет", "no", "false", "0", "-", ""}
_SYNONYMS = {spelling: canon for canon, names in COLUMNS.items() for spelling in names}


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in one row; `skipped` says whether the row was left out."""

    row: int
    column: str | None
    problem: str
    skipped: bool = True


@dataclass(frozen=True, slots=True)
class PosRow:
    row: int
    message: RawMessage | None
    errors: tuple[RowError, ...] = ()


@dataclass
class PosFile:
    """An opened export: what was recognised and the rows to import."""

    format: str
    encoding: str | None
    sheet: str | None
    columns: dict[str, str]  # canonical name → header as written in the file
    total_rows: int | None
    rows: Iterator[PosRow]


@dataclass
class PosReport:
    rows: int = 0
    stored: int = 0
    duplicates: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Counts and the error list, JSON-ready."""
        return asdict(self)


def normalize_header(value: Any) -> str:
    """Header text compared case-, ё- and space-insensitively, without trailing marks."""
    text = str(value or "").replace("\u00a0", " ").lower().replace("ё", "е")
    return re.sub(r"\s+", " ", text).strip(" \t:*\"'")


def match_columns(header: Sequence[Any]) -> dict[str, int]:
    """Canonical column → index of its first cell in the header row."""
    found: dict[str, int] = {}
    for index, cell in enumerate(header):
        canon = _SYNONYMS.get(normalize_header(cell))
        if canon and canon not in found:
            found[canon] = index
    return found


def score_header(row: Sequence[Any]) -> tuple[int, bool]:
    """(known columns named, all required present) for header detection."""
    found = match_columns(row)
    return len(found), all(c in found for c in REQUIRED)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel keeps numbers such as «номер» as floats
    return str(value).replace("\x00", "").strip()


def parse_date(value: Any, *, tz: ZoneInfo) -> datetime | None:
    """An aware datetime from a cell: Excel date, dd.mm.yyyy [hh:mm[:ss]] or ISO 8601."""
    moment: datetime | None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time())
    elif isinstance(value, int | float) and not isinstance(value, bool):
        from openpyxl.utils.datetime import from_excel

        try:
            converted = from_excel(value)
        except (ValueError, OverflowError):
            return None
        # Fractions below one day come back as a bare time: not a date at all.
        if not isinstance(converted, datetime):
            return None
        moment = converted
    else:
        moment = _parse_date_text(_text(value))
        if moment is None:
            return None
    # Local times in the export are the municipality's wall clock.
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


def _parse_date_text(text: str) -> datetime | None:
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    try:
        return float(_text(value).replace(",", "."))
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class _Context:
    columns: dict[str, int]
    source: str
    tz: ZoneInfo
    secret: str
    encoding: str | None


def _cell(row: Sequence[Any], ctx: _Context, name: str) -> Any:
    index = ctx.columns.get(name)
    return row[index] if index is not None and index < len(row) else None


def _geo(row: Sequence[Any], ctx: _Context) -> Geo | None:
    lat, lon = _number(_cell(row, ctx, "lat")), _number(_cell(row, ctx, "lon"))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return Geo(lat, lon)


def _overdue(row: Sequence[Any], ctx: _Context, number: int, errors: list[RowError]) -> bool | None:
    raw = _cell(row, ctx, "overdue")
    if raw is None or isinstance(raw, bool):
        return raw
    value = _text(raw).lower()
    if value in YES or value in NO:
        return value in YES
    errors.append(RowError(number, "просрочено", f"ожидается Да/Нет, а не «{value[:40]}»", False))
    return None


def _required(row: Sequence[Any], ctx: _Context, number: int) -> tuple[Any, list[RowError]]:
    external_id, text = _text(_cell(row, ctx, "number")), _text(_cell(row, ctx, "text"))
    raw_date = _cell(row, ctx, "date")
    created = parse_date(raw_date, tz=ctx.tz)
    errors = []
    if not external_id:
        errors.append(RowError(number, "номер", "пустой номер обращения"))
    elif len(external_id) > 200:
        errors.append(RowError(number, "номер", "номер длиннее 200 символов"))
    if created is None:
        shown = _text(raw_date)[:40]
        problem = f"не удалось разобрать дату «{shown}»" if shown else "пустая дата"
        errors.append(RowError(number, "дата", problem))
    if not text:
        errors.append(RowError(number, "текст", "пустой текст обращения"))
    return (external_id, created, text), errors


def map_row(row: Sequence[Any], *, number: int, ctx: _Context) -> PosRow:
    """One data row → its message, or the reasons it was skipped."""
    (external_id, created, text), errors = _required(row, ctx, number)
    overdue = _overdue(row, ctx, number, errors)
    if any(e.skipped for e in errors):
        return PosRow(number, None, tuple(errors))
    author = _text(_cell(row, ctx, "author")) or None
    extra: dict[str, Any] = {
        k: _text(_cell(row, ctx, k)) or None for k in ("category", "subcategory", "stage")
    }
    extra |= {"organisation": _text(_cell(row, ctx, "organisation")) or None, "overdue": overdue}
    message = RawMessage(
        source=ctx.source,
        external_id=external_id,
        text=text,
        created_at=created,
        author_id=pseudonymize(kind="pos", account_id=author, secret=ctx.secret)
        if author
        else None,
        author_name=author,
        url=_text(_cell(row, ctx, "url"))[:1000] or None,
        geo=_geo(row, ctx),
        place_text=_text(_cell(row, ctx, "address"))[:500] or None,
        extra=extra,
    )
    return PosRow(number, message, tuple(errors))


def _rows(table: RawTable, ctx: _Context) -> Iterator[PosRow]:
    for number, row in table.rows:
        if row is None:
            problem = f"строка не читается в кодировке {ctx.encoding or 'файла'}"
            yield PosRow(number, None, (RowError(number, None, problem),))
        elif any(_text(cell) for cell in row):
            yield map_row(row, number=number, ctx=ctx)


def _check_columns(table: RawTable, name: str) -> dict[str, int]:
    columns = match_columns(table.header)
    missing = [COLUMNS[c][0] for c in REQUIRED if c not in columns]
    if missing:
        seen = ", ".join(f"«{h}»" for h in table.header if _text(h)) or "нет"
        need = ", ".join(f"«{m}»" for m in missing)
        raise PosFormatError(
            f"В файле «{name}» нет обязательных колонок: {need}. Найденные заголовки: {seen}."
        )
    return columns


@contextmanager
def open_pos_file(
    file: Path | BinaryIO, *, name: str | None = None, source: str, tz: str, secret: str
) -> Iterator[PosFile]:
    """Open an export; raise PosFormatError for file-level problems, stream rows otherwise."""
    name = name or (file.name if isinstance(file, Path) else "файл")
    handle = file.open("rb") if isinstance(file, Path) else file
    try:
        kind = detect_format(name, handle.read(8))
        handle.seek(0)
        if kind == "xlsx" and not handle.read(4).startswith(b"PK\x03\x04"):
            raise PosFormatError(
                f"Файл «{name}» не является книгой Excel (XLSX): это не ZIP-архив."
            )
        handle.seek(0)
        if kind == "xlsx":
            table = open_xlsx(handle, name=name, score=score_header)
        else:
            table = open_csv(handle.read(), score=score_header)
        try:
            columns = _check_columns(table, name)
            ctx = _Context(columns, source, ZoneInfo(tz), secret, table.encoding)
            yield PosFile(
                format=table.format,
                encoding=table.encoding,
                sheet=table.sheet,
                columns={c: _text(table.header[i]) for c, i in columns.items()},
                total_rows=table.total_rows,
                rows=_rows(table, ctx),
            )
        finally:
            table.close()
    finally:
        if isinstance(file, Path):
            handle.close()


def store_rows(
    session: Session,
    *,
    source: Source,
    rows: Iterable[PosRow],
    now: datetime,
    batch_size: int = 500,
    after_batch: Callable[[int], None] | None = None,
) -> PosReport:
    """Store good rows in batches (idempotently), collect errors; `after_batch(rows)` per batch."""
    report, batch, pending = PosReport(), [], 0
    for row in rows:
        report.rows, pending = report.rows + 1, pending + 1
        report.errors.extend(row.errors)
        if row.message is None:
            report.skipped += 1
        else:
            batch.append(row.message)
        if len(batch) >= batch_size:
            _flush(session, source, batch, now, report)
            batch, pending = [], _notify(after_batch, pending)
    _flush(session, source, batch, now, report)
    _notify(after_batch, pending)
    return report


def _flush(
    session: Session, source: Source, batch: list[RawMessage], now: datetime, report: PosReport
) -> None:
    if not batch:
        return
    stored, duplicates = store_messages(session, source=source, messages=batch, now=now)
    record_success(
        session, source=source, cursor=source.cursor, fetched=len(batch), stored=stored, now=now
    )
    report.stored += stored
    report.duplicates += duplicates


def _notify(callback: Callable[[int], None] | None, pending: int) -> int:
    if callback and pending:
        callback(pending)
    return 0
