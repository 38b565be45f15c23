"""The 12-week trend on /rating and in its XLSX and PDF downloads (SQLite and PostgreSQL).

Weeks are counted back from the real current week C (the page uses the clock):
C-4 economy 2 perfect incidents → 100.0 (published);
C-3 economy 1 perfect + 1 unanswered, closed late → every share 1/2 → 50.0 (published);
C-2 agriculture 2 perfect → 100.0, economy 1 incident → «недостаточно данных» (not published);
C-1 (the page's default week) nothing of either: gaps.
Only one department has data in C-4 and C-3, so the pooled means equal its own shares and
the shrunk estimates are the raw shares: the indexes above need no calculator. The world's
own incidents (conftest) arrive two hours ago and go to other departments.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from html.parser import HTMLParser
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from config.reference import ReferenceConfig
from core.models import Answer, Department, Incident, RatingSnapshot
from rating.report import DEFAULT_FONT_DIR
from rating.scoring import RatingConfig
from rating.service import publish_snapshot
from rating.weeks import shift_week, week_of, week_start_date
from tests.integration.web.conftest import TZ, XSS, XSS_ESCAPED, Web

ZONE = ZoneInfo(TZ)


def _at(week: str, day: int, hour: int) -> datetime:
    """Local ``hour`` o'clock on weekday ``day`` (0 = Monday) of ``week``."""
    local = datetime.combine(week_start_date(week) + timedelta(days=day), time(hour), ZONE)
    return local.astimezone(UTC)


def _incident(session: Session, dept: int, week: str, *, answered: bool, block: str) -> None:
    """Received Monday 10:00; first answer due 14:00, final 17:00; answered at 11:00 or never
    (then closed on Wednesday without an answer: decided late, not on the merits)."""
    received = _at(week, 0, 10)
    done = _at(week, 0, 11) if answered else None
    incident = Incident(
        block_code=block,
        title="обращение",
        sla_policy="social_normal",
        department_id=dept,
        received_at=received,
        first_answer_due_at=_at(week, 0, 14),
        final_due_at=_at(week, 0, 17),
        first_answered_at=done,
        final_answered_at=done,
        resolved_at=done,
        closed_at=None if answered else _at(week, 2, 10),
        status="resolved" if answered else "closed",
    )
    session.add(incident)
    session.flush()
    if done is not None:
        session.add(Answer(incident_id=incident.id, kind="final", text="ответ", created_at=done))


@pytest.fixture
def weeks(web: Web, reference_config: ReferenceConfig) -> dict[str, str]:
    """The scenario of the module docstring; returns the week labels C-4 … C-1."""
    session = web.world.session
    depts = {d.code: d for d in session.scalars(select(Department))}
    depts["agriculture"].name = XSS  # the trend must escape department names
    current = week_of(datetime.now(UTC), TZ)
    labels = {f"c{n}": shift_week(current, -n) for n in (1, 2, 3, 4)}
    economy, agriculture = depts["economy"].id, depts["agriculture"].id
    for _ in range(2):
        _incident(session, economy, labels["c4"], answered=True, block="economy")
        _incident(session, agriculture, labels["c2"], answered=True, block="agriculture")
    _incident(session, economy, labels["c3"], answered=True, block="economy")
    _incident(session, economy, labels["c3"], answered=False, block="economy")
    _incident(session, economy, labels["c2"], answered=True, block="economy")
    config = RatingConfig.from_mapping(reference_config.rating.model_dump())
    for key in ("c4", "c3"):
        publish_snapshot(
            session,
            week=labels[key],
            calendar=web.world.calendar,
            weights=config,
            now=datetime.now(UTC),
        )
    session.commit()
    return labels


class TrendParser(HTMLParser):
    """Collects the small charts (per department code) and the table under «Таблица»."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, dict[str, Any]] = {}
        self.rows: dict[str, list[str]] = {}
        self.headers: list[str] = []
        self._chart: str | None = None
        self._row: str | None = None
        self._cell: list[str] | None = None
        self._in_trend_table = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg" and a.get("class") == "trend":
            self._chart = a["data-code"]
            self.charts[self._chart or ""] = {"points": {}, "hollow": set(), "lines": 0}
        elif self._chart and tag == "circle":
            chart = self.charts[self._chart]
            chart["points"][a["data-week"]] = float(a["data-index"] or "nan")
            if a.get("fill") == "#fff":
                chart["hollow"].add(a["data-week"])
        elif self._chart and tag == "polyline":
            self.charts[self._chart]["lines"] += 1
        elif tag == "table" and "trend-table" in (a.get("class") or ""):
            self._in_trend_table = True
        elif self._in_trend_table and tag == "tr" and a.get("data-code"):
            self._row = a["data-code"]
            self.rows[self._row or ""] = []
        elif self._in_trend_table and tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = None
        elif tag == "table":
            self._in_trend_table = False
        elif tag in ("td", "th") and self._cell is not None:
            text = "".join(self._cell).strip()
            if self._row is not None:
                self.rows[self._row].append(text)
            else:
                self.headers.append(text)
            self._cell = None
        elif tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _parse(html: str) -> TrendParser:
    parser = TrendParser()
    parser.feed(html)
    return parser


def test_page_shows_the_trend_with_gaps_and_escaped_names(web: Web, weeks: dict[str, str]) -> None:
    web.login("head")
    page = web.client.get("/rating")
    assert page.status_code == 200 and "Динамика индекса за 12 недель" in page.text
    found = _parse(page.text)
    economy, agriculture = found.charts["economy"], found.charts["agriculture"]
    assert economy["points"] == {weeks["c4"]: 100.0, weeks["c3"]: 50.0}
    assert economy["lines"] == 1 and economy["hollow"] == set()
    # A single placed week between gaps: a marker, no line; hollow because not published.
    assert agriculture["points"] == {weeks["c2"]: 100.0} and agriculture["lines"] == 0
    assert agriculture["hollow"] == {weeks["c2"]}
    # The table lists every department; «—» where it had no place (economy's 1 incident).
    current = week_of(datetime.now(UTC), TZ)
    expected_weeks = [shift_week(current, -n) for n in range(12, 0, -1)]
    assert found.headers[1:] == [w + ("" if w in (weeks["c4"], weeks["c3"]) else "*")
                                 for w in expected_weeks]  # fmt: skip
    assert found.rows["economy"][-4:] == ["100.0", "50.0", "—", "—"]
    assert found.rows["agriculture"][0] == XSS and found.rows["agriculture"][-2] == "100.0"
    assert "culture" in found.rows and "culture" not in found.charts  # never placed
    assert XSS not in page.text and XSS_ESCAPED in page.text


def test_published_week_page_ends_the_trend_there(web: Web, weeks: dict[str, str]) -> None:
    web.login("head")
    found = _parse(web.client.get(f"/rating?week={weeks['c3']}").text)
    assert found.headers[-1] == weeks["c3"]
    assert found.charts["economy"]["points"] == {weeks["c4"]: 100.0, weeks["c3"]: 50.0}
    assert "agriculture" not in found.charts  # placed only later: listed, never drawn
    assert set(found.rows["agriculture"][1:]) == {"—"}


@pytest.fixture
def flow_scans(web: Web) -> Iterator[list[str]]:
    """SQL of the per-week tally scan (rating.repository.flow_counts) run by the app."""
    engine = web.world.session.get_bind()
    seen: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "message_count" in statement and "GROUP BY" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    yield seen
    event.remove(engine, "before_cursor_execute", listen)


def test_page_views_do_not_rescan_published_or_cached_weeks(
    web: Web, weeks: dict[str, str], flow_scans: list[str]
) -> None:
    web.login("head")
    assert web.client.get("/rating").status_code == 200
    # C-1 (shown) and C-2 (its movers, then reused by the trend); C-4 and C-3 come from
    # their snapshots, the seven weeks before the first incident are not scanned at all.
    assert len(flow_scans) == 2
    flow_scans.clear()
    assert web.client.get("/rating").status_code == 200
    assert len(flow_scans) == 1  # only the shown week; C-2 is served from the cache
    stored = web.world.session.scalars(select(RatingSnapshot.week)).all()
    assert sorted(stored) == sorted([weeks["c4"], weeks["c3"], weeks["c1"]])  # C-1: a draft


def test_xlsx_download_has_the_trend_sheet_with_the_numbers(
    web: Web, weeks: dict[str, str]
) -> None:
    web.login("head")
    response = web.client.get(f"/rating/{weeks['c1']}.xlsx")
    assert response.status_code == 200
    book = load_workbook(BytesIO(response.content))
    sheet = book["Динамика"]
    header = [cell.value for cell in sheet[1]]
    names = {d.code: d.name for d in web.world.session.scalars(select(Department))}
    rows = {row[0]: row for row in sheet.iter_rows(min_row=2, max_row=13, values_only=True)}
    assert len(rows) == 12 and list(rows)[-1] == weeks["c1"]
    economy = header.index(names["economy"])
    agriculture = header.index(XSS)  # stored as text, not interpreted
    assert [rows[weeks[k]][economy] for k in ("c4", "c3", "c2", "c1")] == [100, 50, None, None]
    assert [rows[weeks[k]][agriculture] for k in ("c4", "c3", "c2", "c1")] == [
        None,
        None,
        100,
        None,
    ]
    assert rows[weeks["c4"]][2] == "опубликована" and rows[weeks["c2"]][2] == "предварительно"
    with zipfile.ZipFile(BytesIO(response.content)) as archive:
        chart = archive.read("xl/charts/chart1.xml").decode("utf-8")
    assert "<lineChart>" in chart and '<dispBlanksAs val="gap"' in chart
    assert chart.count("<ser>") == len(header) - 3


def test_pdf_download_has_the_trend_page(web: Web, weeks: dict[str, str]) -> None:
    if not (DEFAULT_FONT_DIR / "DejaVuSans.ttf").is_file():
        pytest.skip("fonts-dejavu-core is not installed")
    web.login("head")
    data = web.client.get(f"/rating/{weeks['c1']}.pdf").content
    assert data.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page(?![s\w])", data)) >= 2
    titles = [
        bytes.fromhex(m.group(1).decode()).decode("utf-16")
        for m in re.finditer(rb"/Title\s*<([0-9a-fA-F]+)>", data)
    ]
    assert "Динамика индекса за 12 недель" in titles
    content = b"".join(
        zlib.decompress(m.group(1))
        for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S)
        if m.group(1)[:1] == b"x"
    )
    # economy C-4–C-3 is the only unbroken run of two weeks or more.
    assert len(re.findall(rb"m\n(?:[-\d.]+ [-\d.]+ l\n)+ S", content)) == 1


def test_page_ranks_the_sector_blocks_too(web: Web, weeks: dict[str, str]) -> None:
    web.login("head")
    page = web.client.get(f"/rating?week={weeks['c3']}").text
    section = page[page.index('id="blocks"') : page.index("</section>", page.index('id="blocks"'))]
    row = re.search(r'<tr class="" data-code="economy">(.*?)</tr>', section, re.S)
    assert row, "the economy block is ranked"
    cells = [
        re.sub(r"<[^>]+>", "", c).strip()
        for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    ]
    # Only the economy block has incidents that week: its own shares, 1/2 each → 50.0.
    assert cells[0] == "1" and cells[2] == "50.0" and cells[-1] == "2"
    assert 'data-code="roads"' in section and "недостаточно данных" in section
