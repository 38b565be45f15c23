"""Pure helpers of the web layer: spikes, daily bins, bars, map labels, the rate limiter."""

from __future__ import annotations

from datetime import UTC, date, datetime

from web.auth import RateLimiter, login_key
from web.pages.charts import (
    MapPoint,
    daily_series,
    find_spikes,
    fit_projection,
    nice_max,
    place_labels,
    vertical_bars,
)


def test_a_spike_needs_volume_ratio_and_score() -> None:
    series = {
        "roads": [1] * 14 + [9],  # mean 1, today 9: spike
        "housing": [5] * 14 + [9],  # busy every day: 9 is not unusual
        "energy": [0] * 14 + [2],  # too few to matter
        "social": [0] * 14 + [4],  # from nothing to 4: spike
    }
    spikes = find_spikes(series)
    assert [s.key for s in spikes] == ["roads", "social"]
    assert spikes[0].today == 9 and spikes[0].mean == 1.0
    assert find_spikes({"x": [3]}) == []


def test_daily_series_bins_by_local_date() -> None:
    rows = [
        (datetime(2026, 11, 20, 13, 30, tzinfo=UTC), "a"),  # 23:30 local, 20.11
        (datetime(2026, 11, 20, 14, 30, tzinfo=UTC), "a"),  # 00:30 local, 21.11
        (datetime(2026, 11, 1, 0, 0, tzinfo=UTC), "a"),  # outside the window
    ]
    series = daily_series(rows, today=date(2026, 11, 21), days=3, tz="Asia/Vladivostok")
    assert series == {"a": [0, 1, 1]}


def test_bars_fill_the_height_on_a_round_scale() -> None:
    assert nice_max(7) == 10 and nice_max(11) == 20 and nice_max(0) == 1
    bars, top = vertical_bars([5, 10], ["a", "b"], width=100, height=50)
    assert top == 10 and bars[1].height == 50 and bars[0].y == 25


def test_projection_keeps_north_up_and_labels_do_not_overlap() -> None:
    proj = fit_projection([(47.70, 131.10), (48.30, 130.90)], width=400)
    north_x, north_y = proj.point(48.30, 130.90)
    south_x, south_y = proj.point(47.70, 131.10)
    assert north_y < south_y and north_x < south_x
    crowd = [MapPoint(100, 100, f"Село{i}", i) for i in range(4)]
    labels = place_labels(crowd)
    boxes = [(lab.x, lab.y) for lab in labels.values()]
    assert len(set(boxes)) == len(boxes)
    assert "Село3" in labels  # the busiest gets a label first


def test_rate_limiter_window_and_reset() -> None:
    clock = [0.0]
    limiter = RateLimiter(limit=2, window_seconds=60, clock=lambda: clock[0])
    key = login_key(" Operator ", "10.0.0.1")
    assert key == "operator|10.0.0.1"
    limiter.hit(key)
    limiter.hit(key)
    assert limiter.blocked(key)
    clock[0] = 61
    assert not limiter.blocked(key)
    assert limiter.allow(key) and limiter.allow(key) and not limiter.allow(key)
    limiter.reset(key)
    assert not limiter.blocked(key)
