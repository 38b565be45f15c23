"""The weekly report files the head gets in Telegram, written where the alerts job reads them.

`alerts` may not import `rating`, so the Monday job renders the PDF and XLSX here, stores
them under `var/reports/` and puts their paths into the outbox payload.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from rating import report
from rating.scoring import RatingResult
from rating.trend import Trend

log = logging.getLogger("mcu.reports")


def _write(path: Path, render: Callable[[Path], Path]) -> Path | None:
    """Render into a temporary name, then rename: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        render(tmp)
        os.replace(tmp, path)
    except (OSError, report.ReportFontError) as exc:
        log.warning("report %s not written: %s", path.name, exc)
        tmp.unlink(missing_ok=True)
        return None
    return path


def write_weekly_reports(
    result: RatingResult, *, week: str, folder: Path, trend: Trend | None = None
) -> dict[str, str]:
    """PDF and XLSX of the week (with the 12-week trend when given) under `folder`; payload
    keys of the files that were written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {
        "report_pdf": _write(
            folder / f"rating-{week}.pdf", lambda p: report.write_pdf(result, p, trend=trend)
        ),
        "report_xlsx": _write(
            folder / f"rating-{week}.xlsx", lambda p: report.write_xlsx(result, p, trend=trend)
        ),
    }
    return {key: str(path) for key, path in written.items() if path is not None}
