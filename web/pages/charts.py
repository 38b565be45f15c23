"""Pure helpers for server-side SVG: daily bins, bar and line geometry, spikes, map projection."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from rating.trend import runs


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: float
    label: str


@dataclass(frozen=True)
class Spike:
    """A key (block or settlement) with unusual volume today against its recent mean."""

    key: str
    today: int
    mean: float
    score: float


@dataclass(frozen=True)
class MapPoint:
    x: float
    y: float
    label: str
    value: int
    major: bool = False


def local_days(today: date, days: int) -> list[date]:
    """The `days` local dates ending with `today`, oldest first."""
    return [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def daily_series(
    rows: Iterable[tuple[datetime, str]], *, today: date, days: int, tz: str
) -> dict[str, list[int]]:
    """Count (moment, key) pairs per key per local day over the `days` days ending today."""
    zone = ZoneInfo(tz)
    index = {day: i for i, day in enumerate(local_days(today, days))}
    series: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    for moment, key in rows:
        slot = index.get(moment.astimezone(zone).date())
        if slot is not None:
            series[key][slot] += 1
    return dict(series)


def find_spikes(
    series: Mapping[str, Sequence[int]],
    *,
    min_today: int = 3,
    ratio: float = 2.0,
    min_score: float = 2.5,
) -> list[Spike]:
    """Keys whose last value is well above the mean of the earlier ones (Poisson-like score).

    A spike needs at least `min_today` today, `ratio` times the mean, and a score
    (today − mean) / sqrt(max(mean, 0.5)) of at least `min_score`.
    """
    found: list[Spike] = []
    for key, values in series.items():
        if len(values) < 2:
            continue
        *history, today = values
        mean = sum(history) / len(history)
        score = (today - mean) / math.sqrt(max(mean, 0.5))
        if today >= min_today and today >= ratio * mean and score >= min_score:
            found.append(Spike(key=key, today=today, mean=round(mean, 2), score=round(score, 2)))
    return sorted(found, key=lambda s: (-s.score, s.key))


def nice_max(value: float) -> float:
    """A round axis maximum ≥ value (1, 2, 5 × 10ⁿ)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def vertical_bars(
    values: Sequence[float], labels: Sequence[str], *, width: float, height: float, gap: float = 4
) -> tuple[list[Bar], float]:
    """Column bars filling width × height (y grows down), and the axis maximum used."""
    if not values:
        return [], 1.0
    top = nice_max(max(values))
    slot = width / len(values)
    bars = []
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        h = height * value / top
        bars.append(Bar(i * slot + gap / 2, height - h, max(slot - gap, 1), h, value, label))
    return bars, top


def horizontal_bars(
    values: Sequence[float | None],
    labels: Sequence[str],
    *,
    width: float,
    row: float = 22,
    top: float = 100.0,
) -> list[Bar]:
    """Row bars on a 0..top scale (None: no bar)."""
    return [
        Bar(0, i * row + 3, width * (value or 0) / top, row - 6, value or 0, label)
        for i, (value, label) in enumerate(zip(values, labels, strict=True))
    ]


@dataclass(frozen=True)
class LinePoint:
    """A known value of a line chart; ``solid`` False draws it hollow (preliminary)."""

    x: float
    y: float
    value: float
    label: str
    solid: bool
    position: int


@dataclass(frozen=True)
class LinePlot:
    """A line chart with gaps: polylines (``points`` attributes), markers and axis ticks."""

    segments: list[str]
    points: list[LinePoint]
    x_ticks: list[tuple[float, str]]
    y_ticks: list[tuple[float, float]]


def line_plot(
    values: Sequence[float | None],
    labels: Sequence[str],
    *,
    box: tuple[float, float, float, float],
    solid: Sequence[bool] | None = None,
    top: float = 100.0,
    ticks: Sequence[float] = (0, 50, 100),
) -> LinePlot:
    """Geometry of one series on 0..top in box (left, top, width, height), y growing down.

    None is a gap: the line breaks there and no marker is drawn, so a week without data
    never looks like a zero. Every known value gets a marker, which keeps a lone value
    between two gaps visible.
    """
    left, upper, width, height = box
    step = width / max(len(values), 1)

    def x_of(position: int) -> float:
        return round(left + step * (position + 0.5), 1)

    def y_of(value: float) -> float:
        return round(upper + height * (1 - min(max(value, 0.0), top) / top), 1)

    flags = list(solid) if solid is not None else [True] * len(values)
    found = runs(values)
    return LinePlot(
        segments=[
            " ".join(f"{x_of(i)},{y_of(v)}" for i, v in run) for run in found if len(run) > 1
        ],
        points=[
            LinePoint(x_of(i), y_of(v), v, labels[i], flags[i], i) for run in found for i, v in run
        ],
        x_ticks=[(x_of(i), label) for i, label in enumerate(labels)],
        y_ticks=[(y_of(t), t) for t in ticks],
    )


@dataclass(frozen=True)
class Projection:
    """Equirectangular projection of a lat/lon box onto a width × height picture."""

    south: float
    west: float
    north: float
    east: float
    width: float
    height: float

    def point(self, lat: float, lon: float) -> tuple[float, float]:
        """Picture coordinates (x right, y down) of a lat/lon."""
        x = (lon - self.west) / max(self.east - self.west, 1e-9) * self.width
        y = (self.north - lat) / max(self.north - self.south, 1e-9) * self.height
        return round(x, 1), round(y, 1)


def fit_projection(
    coords: Sequence[tuple[float, float]], *, width: float, pad: float = 0.08
) -> Projection:
    """A box around the points (padded), with the height set so that km look square."""
    lats = [lat for lat, _ in coords] or [0.0]
    lons = [lon for _, lon in coords] or [0.0]
    south, north = min(lats), max(lats)
    west, east = min(lons), max(lons)
    dlat, dlon = max(north - south, 0.05), max(east - west, 0.05)
    south, north = south - dlat * pad, north + dlat * pad
    west, east = west - dlon * pad, east + dlon * pad
    km_x = (east - west) * math.cos(math.radians((south + north) / 2))
    height = round(width * (north - south) / max(km_x, 1e-9), 1)
    return Projection(south, west, north, east, width, min(max(height, 200.0), width * 1.4))


def in_box(projection: Projection, lat: float, lon: float) -> bool:
    """Whether the point lies inside the projected box."""
    p = projection
    return p.south <= lat <= p.north and p.west <= lon <= p.east


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    anchor: str
    text: str


def place_labels(
    points: Sequence[MapPoint],
    *,
    char_width: float = 6.0,
    height: float = 11.0,
    max_x: float = float("inf"),
) -> dict[str, Label]:
    """Greedy non-overlapping labels inside [0, max_x]: busiest first; right, left, up, down."""
    placed: list[tuple[float, float, float, float]] = []
    result: dict[str, Label] = {}
    for point in sorted(points, key=lambda p: (-p.major, -p.value, p.label)):
        text = f"{point.label} ({point.value})" if point.value else point.label
        width = len(text) * char_width
        options = (
            (point.x + 6, point.y + 4, "start", point.x + 6),
            (point.x - 6, point.y + 4, "end", point.x - 6 - width),
            (point.x, point.y - 8, "middle", point.x - width / 2),
            (point.x, point.y + 16, "middle", point.x - width / 2),
        )
        for x, y, anchor, left in options:
            box = (left, y - height + 2, left + width, y + 2)
            inside = left >= -8 and left + width <= max_x + 8
            if inside and not any(_overlap(box, other) for other in placed):
                placed.append(box)
                result[point.label] = Label(x, y, anchor, text)
                break
    return result


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
