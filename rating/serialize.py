"""Plain dicts of a rating: the CLI/web JSON shape and the stored snapshot payload."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rating.scoring import (
    STATUS_TEXT,
    Counts,
    RatingConfig,
    RatingResult,
    Share,
    UnitScore,
    movers,
)

__all__ = [
    "PAYLOAD_VERSION",
    "from_payload",
    "page_dict",
    "period_text",
    "to_json_dict",
    "to_payload",
    "unit_json",
]

PAYLOAD_VERSION = 1


def _points(share: Share, unit: UnitScore) -> float | None:
    """A criterion score on the 0–100 scale, hidden for units without a place."""
    if unit.index is None or share.estimate is None:
        return None
    return round(100 * share.estimate, 1)


def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def _interval(share: Share, unit: UnitScore) -> list[float | None] | None:
    if unit.index is None or share.low is None or share.high is None:
        return None
    return [round(100 * share.low, 1), round(100 * share.high, 1)]


def unit_json(unit: UnitScore) -> dict[str, Any]:
    """One unit in the CLI/web shape: department, rank, index, criteria and raw metrics."""
    c = unit.counts
    return {
        "department": unit.name,
        "rank": unit.rank,
        "index": _r(unit.index, 1),
        "volume": _points(unit.volume, unit),
        "speed": _points(unit.speed, unit),
        "completeness": _points(unit.completeness, unit),
        "incidents": c.workload,
        "code": unit.key,
        "status": unit.status,
        "status_text": STATUS_TEXT[unit.status],
        "index_interval": None
        if unit.index_low is None or unit.index_high is None
        else [round(unit.index_low, 1), round(unit.index_high, 1)],
        "volume_interval": _interval(unit.volume, unit),
        "speed_interval": _interval(unit.speed, unit),
        "completeness_interval": _interval(unit.completeness, unit),
        "previous_rank": unit.previous_rank,
        "rank_change": unit.rank_change,
        "received": c.received,
        "messages": c.messages,
        "handled_share": _r(unit.volume.raw),
        "overdue_open": c.overdue_open,
        "late_decided": c.late_decided,
        "on_time_share": _r(unit.speed.raw),
        "judged": c.judged,
        "median_first_answer_hours": _r(unit.median_hours, 2),
        "p90_first_answer_hours": _r(unit.p90_hours, 2),
        "merits_share": _r(unit.completeness.raw),
        "decided": c.decided,
        "rejected": c.rejected,
        "reopen_rate": _r(unit.reopen_rate),
        "verdicts": {"yes": c.verdict_yes, "partial": c.verdict_partial, "no": c.verdict_no},
        "formal_share": _r(unit.formal_share),
        "answers": c.answers,
    }


def to_json_dict(result: RatingResult) -> dict[str, Any]:
    """Exactly the `mcu rating compute --json` shape: {"week": ..., "units": [...]}."""
    return {"week": result.week, "units": [unit_json(u) for u in result.units]}


def period_text(result: RatingResult) -> str:
    """«16.11.2026–22.11.2026» in the municipality's local dates."""
    zone = ZoneInfo(result.timezone)
    first = result.start.astimezone(zone).date()
    last = (result.end.astimezone(zone) - timedelta(days=1)).date()
    return f"{first:%d.%m.%Y}–{last:%d.%m.%Y}"


def page_dict(result: RatingResult, *, movers_limit: int = 5) -> dict[str, Any]:
    """Everything the web page shows, as plain data (the template is the web layer's)."""
    zone = ZoneInfo(result.timezone)
    return {
        **to_json_dict(result),
        "title": f"Рейтинг отделов за неделю {result.week}",
        "period": period_text(result),
        "timezone": result.timezone,
        "as_of": result.as_of.astimezone(zone).isoformat(),
        "computed_at": result.computed_at.astimezone(zone).isoformat(),
        "published_at": None
        if result.published_at is None
        else result.published_at.astimezone(zone).isoformat(),
        "weights": asdict(result.config),
        "movers": [unit_json(u) for u in movers(units=result.units, limit=movers_limit)],
        "blocks": [unit_json(u) for u in result.blocks],
    }


def _unit_payload(unit: UnitScore) -> dict[str, Any]:
    return asdict(unit)


def _unit_from(data: dict[str, Any]) -> UnitScore:
    values = dict(data)
    values["counts"] = Counts(**values["counts"])
    for name in ("volume", "speed", "completeness"):
        values[name] = Share(**values[name])
    return UnitScore(**values)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def to_payload(result: RatingResult) -> dict[str, Any]:
    """Everything needed to restore ``result`` exactly, as JSON-ready data."""
    return {
        "version": PAYLOAD_VERSION,
        "week": result.week,
        "timezone": result.timezone,
        "start": _iso(result.start),
        "end": _iso(result.end),
        "as_of": _iso(result.as_of),
        "computed_at": _iso(result.computed_at),
        "published_at": _iso(result.published_at),
        "config": asdict(result.config),
        "units": [_unit_payload(u) for u in result.units],
        "blocks": [_unit_payload(u) for u in result.blocks],
    }


def from_payload(payload: dict[str, Any]) -> RatingResult:
    """Restore a RatingResult written by ``to_payload``."""
    if payload.get("version") != PAYLOAD_VERSION:
        raise ValueError(f"unknown rating payload version {payload.get('version')!r}")
    published = payload.get("published_at")
    return RatingResult(
        week=payload["week"],
        timezone=payload["timezone"],
        start=datetime.fromisoformat(payload["start"]),
        end=datetime.fromisoformat(payload["end"]),
        as_of=datetime.fromisoformat(payload["as_of"]),
        computed_at=datetime.fromisoformat(payload["computed_at"]),
        published_at=datetime.fromisoformat(published) if published else None,
        config=RatingConfig(**payload["config"]),
        units=tuple(_unit_from(u) for u in payload["units"]),
        blocks=tuple(_unit_from(u) for u in payload["blocks"]),
    )
