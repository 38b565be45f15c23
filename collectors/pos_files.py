"""Reading ПОС export files: XLSX sheets and CSV with guessed encoding and delimiter.

Yields raw cell rows with their row number in the file; mapping rows to messages lives in
collectors.pos_import. Every file-level problem raises PosFormatError with a clear reason.
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from core.errors import AppError

CSV_ENCODINGS = ("utf-8-sig", "cp1251", "koi8-r")
HEADER_SCAN_ROWS = 20
DELIMITERS = (";", ",", "\t")  # Russian Excel writes «;», other tools «,» or tabs
XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0"  # the pre-2007 OLE container of .xls


class PosFormatError(AppError):
    """The file as a whole cannot be imported (not a table, unknown encoding, no columns)."""

    status_code = 422


# Scores a candidate header row: how many known columns it names, and whether all required.
HeaderScore = Callable[[Sequence[Any]], tuple[int, bool]]


@dataclass
class RawTable:
    """Cell rows of one table with the header found in it."""

    format: str
    header_row: int
    header: list[Any]
    rows: Iterator[tuple[int, list[Any] | None]]  # None: row unreadable (bad bytes)
    total_rows: int | None
    encoding: str | None = None
    sheet: str | None = None
    close: Callable[[], None] = lambda: None


def detect_format(name: str, head: bytes) -> str:
    """ "xlsx" or "csv" from the name and the first bytes; old .xls is refused clearly."""
    lower = name.lower()
    if head.startswith(XLS_MAGIC) or lower.endswith(".xls"):
        raise PosFormatError(
            f"Файл «{name}» в старом формате Excel (.xls); сохраните выгрузку как .xlsx или .csv."
        )
    if lower.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if lower.endswith((".csv", ".txt")):
        return "csv"
    return "xlsx" if head.startswith(XLSX_MAGIC) else "csv"


def _best_header(rows: Sequence[Sequence[Any]], score: HeaderScore) -> tuple[int, int, bool]:
    """(index, matched, complete) of the most header-like row among the first rows."""
    best = (-1, 0, False)
    for index, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        matched, complete = score(row)
        if (complete, matched) > (best[2], best[1]):
            best = (index, matched, complete)
    return best


def open_xlsx(file: str | BinaryIO, *, name: str, score: HeaderScore) -> RawTable:
    """The first sheet whose header has every required column (read-only streaming)."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        with warnings.catch_warnings():
            # Generated exports often lack default styles; openpyxl warns and reads fine.
            warnings.simplefilter("ignore", UserWarning)
            book = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError) as exc:
        raise PosFormatError(
            f"Файл «{name}» не является книгой Excel (XLSX) или повреждён: {exc}"
        ) from exc
    fallback: tuple[int, Any, list[list[Any]]] | None = None
    for sheet in book.worksheets:
        head = [list(r) for r in sheet.iter_rows(max_row=HEADER_SCAN_ROWS, values_only=True)]
        index, matched, complete = _best_header(head, score)
        if complete:
            return RawTable(
                format="xlsx",
                header_row=index + 1,
                header=head[index],
                rows=_xlsx_rows(sheet, start=index + 2),
                total_rows=max((sheet.max_row or 0) - index - 1, 0) or None,
                sheet=sheet.title,
                close=book.close,
            )
        if index >= 0 and (fallback is None or matched > fallback[0]):
            fallback = (matched, sheet.title, [head[index]])
    book.close()
    header = fallback[2][0] if fallback else []
    return RawTable("xlsx", 0, header, iter(()), 0, sheet=fallback[1] if fallback else None)


def _xlsx_rows(sheet: Any, *, start: int) -> Iterator[tuple[int, list[Any] | None]]:
    for number, row in enumerate(sheet.iter_rows(min_row=start, values_only=True), start=start):
        yield number, list(row)


def _lines(data: bytes) -> list[bytes]:
    return data.replace(b"\r\n", b"\n").split(b"\n")


def split_line(line: str, delimiter: str) -> list[str]:
    """One physical CSV line as cells; [] when it is not valid CSV on its own."""
    try:
        return next(csv.reader([line.rstrip("\r")], delimiter=delimiter), [])
    except csv.Error:
        return []


def _decode_line(line: bytes, encoding: str) -> str | None:
    try:
        return line.decode(encoding)
    except UnicodeDecodeError:
        return None


def _pick_encoding(lines: list[bytes], score: HeaderScore) -> tuple[str, int, str, bool]:
    """(encoding, header line index, delimiter, complete) of the best-reading encoding."""
    best: tuple[int, str, int, str] | None = None
    for encoding in CSV_ENCODINGS:
        # A line that does not decode cannot be the header; later it becomes a row error.
        head = [_decode_line(line, encoding) for line in lines[:HEADER_SCAN_ROWS]]
        for delimiter in DELIMITERS:
            rows = [split_line(h, delimiter) if h else [] for h in head]
            index, matched, complete = _best_header(rows, score)
            if complete:
                return encoding, index, delimiter, True
            if matched and (best is None or matched > best[0]):
                best = (matched, encoding, index, delimiter)
    if best is None:
        tried = ", ".join(CSV_ENCODINGS)
        raise PosFormatError(
            f"Не удалось прочитать CSV: кодировка не распознана (пробовали {tried}) "
            "или в файле нет строки заголовков ПОС."
        )
    return best[1], best[2], best[3], False


def _decode_all(lines: list[bytes], encoding: str) -> tuple[str, set[int]]:
    """The text with undecodable lines replaced, and their 1-based numbers."""
    bad: set[int] = set()
    out: list[str] = []
    for number, line in enumerate(lines, start=1):
        enc = encoding if number == 1 else encoding.removesuffix("-sig")
        try:
            out.append(line.decode(enc))
        except UnicodeDecodeError:
            bad.add(number)
            out.append(line.decode(enc, errors="replace"))
    return "\n".join(out).replace("\x00", ""), bad


def _csv_rows(
    text: str, *, delimiter: str, skip: int, bad: set[int]
) -> Iterator[tuple[int, list[Any] | None]]:
    # Texts up to 100,000 characters exceed csv's default field limit of 131,072 bytes-ish.
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 24))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    last = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield reader.line_num, None
            last = reader.line_num
            continue
        first, last = last + 1, reader.line_num
        if first <= skip:
            continue
        spoiled = any(n in bad for n in range(first, last + 1))
        yield first, None if spoiled else list(row)


def open_csv(data: bytes, *, score: HeaderScore) -> RawTable:
    """A CSV table: utf-8-sig, then cp1251, then koi8-r, the first whose header reads."""
    lines = _lines(data)
    encoding, index, delimiter, complete = _pick_encoding(lines, score)
    header = split_line(lines[index].decode(encoding), delimiter)
    if not complete:
        return RawTable("csv", index + 1, header, iter(()), 0, encoding=encoding)
    text, bad = _decode_all(lines, encoding)
    return RawTable(
        format="csv",
        header_row=index + 1,
        header=header,
        rows=_csv_rows(text, delimiter=delimiter, skip=index + 1, bad=bad),
        total_rows=max(len(lines) - index - 1, 0),
        encoding=encoding,
    )
