"""The 12-week trend as data: gaps instead of zeros, line order, the cache of computed weeks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rating.scoring import Counts, RatingConfig, RatingResult, UnitInput, score_units
from rating.trend import WeekCache, build_trend, ordered_lines, runs

CONFIG = RatingConfig(volume=0.2, speed=0.4, completeness=0.4, min_incidents=2)
T0 = datetime(2026, 11, 23, 0, tzinfo=UTC)
PERFECT = Counts(workload=2, judged=2, on_time=2, decided=2, merits=2)
HALF = Counts(workload=2, late_decided=1, judged=2, on_time=1, decided=2, merits=1)
ONE = Counts(workload=1, judged=1, on_time=1, decided=1, merits=1)


def _week(week: str, units: dict[str, tuple[str, Counts]]) -> RatingResult:
    inputs = [UnitInput(key=k, name=name, counts=c) for k, (name, c) in units.items()]
    return RatingResult(
        week=week,
        timezone="Asia/Vladivostok",
        start=T0,
        end=T0,
        as_of=T0,
        computed_at=T0,
        config=CONFIG,
        units=tuple(score_units(units=inputs, config=CONFIG)),
    )


def test_runs_split_at_gaps_and_keep_positions() -> None:
    assert runs([None, 10.0, 20.0, None, 30.0, None, None]) == [
        [(1, 10.0), (2, 20.0)],
        [(4, 30.0)],
    ]
    assert runs([0.0, 0.0]) == [[(0, 0.0), (1, 0.0)]]  # a real zero is a value, not a gap
    assert runs([None, None]) == []
    assert runs([]) == []


def test_build_trend_leaves_gaps_for_missing_and_insufficient_weeks() -> None:
    w1 = _week("2026-W45", {"a": ("Отдел А", PERFECT), "b": ("Отдел Б", ONE)})
    w3 = _week(
        "2026-W47",
        {"a": ("Отдел А (новое имя)", HALF), "b": ("Отдел Б", PERFECT), "c": ("Отдел В", Counts())},
    )
    trend = build_trend(
        weeks=["2026-W45", "2026-W46", "2026-W47"],
        results=[w1, None, w3],
        published=[True, False, False],
    )
    assert trend.weeks == ("2026-W45", "2026-W46", "2026-W47")
    assert trend.published == (True, False, False)
    by_code = {line.code: line for line in trend.lines}
    # W45: only «a» is placed, so the pooled means are its own shares: index 100.
    # W47: pooled means 0.75 (volume 3/4, speed 3/4, completeness 3/4), k = 5:
    # a = (1 + 3.75) / 7 → 67.857…; b = (2 + 3.75) / 7 → 82.142…
    assert by_code["a"].index[0] == pytest.approx(100.0)
    assert by_code["a"].index[1] is None and by_code["b"].index[1] is None
    assert by_code["a"].index[2] == pytest.approx(100 * 4.75 / 7)
    assert by_code["b"].index == (None, None, pytest.approx(100 * 5.75 / 7))
    assert by_code["b"].rank == (None, None, 1) and by_code["a"].rank == (1, None, 2)
    assert by_code["c"].index == (None, None, None) and not by_code["c"].has_values
    assert by_code["a"].department == "Отдел А (новое имя)"  # the latest name wins
    assert [line.code for line in trend.lines] == ["a", "b", "c"]
    plain = trend.to_dict()
    assert plain["departments"][1]["index"] == [None, None, 82.1]


def test_build_trend_needs_one_result_per_week() -> None:
    with pytest.raises(ValueError, match="one result"):
        build_trend(weeks=["2026-W47"], results=[], published=[])


def test_ordered_lines_follow_the_ranking_then_names() -> None:
    week = _week(
        "2026-W47",
        {"a": ("Я-отдел", PERFECT), "b": ("Б-отдел", HALF), "c": ("А-отдел", Counts())},
    )
    trend = build_trend(weeks=["2026-W47"], results=[week], published=[True])
    assert [line.code for line in ordered_lines(trend)] == ["c", "b", "a"]
    assert [line.code for line in ordered_lines(trend, order=["a", "b"])] == ["a", "b", "c"]


def test_week_cache_expires_after_ttl_and_evicts_the_oldest() -> None:
    result = _week("2026-W47", {"a": ("Отдел А", PERFECT)})
    cache = WeekCache(ttl=timedelta(minutes=10), max_entries=2)
    cache.put("w47", result, now=T0)
    assert cache.get("w47", now=T0 + timedelta(minutes=9, seconds=59)) is result
    assert cache.get("w47", now=T0 + timedelta(minutes=10)) is None
    assert len(cache) == 0  # the expired entry is dropped, not kept forever
    cache.put("w45", result, now=T0)
    cache.put("w46", result, now=T0 + timedelta(seconds=1))
    cache.put("w47", result, now=T0 + timedelta(seconds=2))
    assert len(cache) == 2
    assert cache.get("w45", now=T0 + timedelta(seconds=3)) is None
    assert cache.get("w46", now=T0 + timedelta(seconds=3)) is result
    with pytest.raises(ValueError):
        WeekCache(ttl=timedelta(0))
