"""Pure rating arithmetic: shares, empirical-Bayes shrinkage, the 0–100 index, ranks, movers.

The methodology (which incidents count where, and why) is in docs/rating.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any

from scipy.special import betaincinv

__all__ = [
    "INSUFFICIENT",
    "RANKED",
    "STATUS_TEXT",
    "Counts",
    "RatingConfig",
    "RatingResult",
    "Share",
    "UnitInput",
    "UnitScore",
    "apply_previous_ranks",
    "combine_index",
    "movers",
    "percentile",
    "pooled_mean",
    "rank_units",
    "score_units",
    "shrink",
]

RANKED = "ranked"
INSUFFICIENT = "insufficient_data"
STATUS_TEXT = {RANKED: "в рейтинге", INSUFFICIENT: "недостаточно данных"}
# The interval never collapses to a point when the pooled share is exactly 0 or 1.
_MIN_BETA_PARAM = 0.5


@dataclass(frozen=True, slots=True)
class RatingConfig:
    """Criterion weights and the anti-gaming knobs from config/rating.yaml."""

    volume: float
    speed: float
    completeness: float
    min_incidents: int = 2
    prior_strength: float = 5.0
    level: float = 0.9

    def __post_init__(self) -> None:
        weights = (self.volume, self.speed, self.completeness)
        if any(not math.isfinite(w) or w < 0 for w in weights) or sum(weights) <= 0:
            raise ValueError(f"weights must be >= 0 with a positive sum, got {weights}")
        if self.min_incidents < 1:
            raise ValueError(f"min_incidents must be >= 1, got {self.min_incidents}")
        if not math.isfinite(self.prior_strength) or self.prior_strength < 0:
            raise ValueError(f"prior_strength must be >= 0, got {self.prior_strength}")
        if not 0 < self.level < 1:
            raise ValueError(f"level must be in (0, 1), got {self.level}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RatingConfig:
        """Build from the parsed rating.yaml mapping (or a RatingFile's model_dump())."""
        weights = data["weights"]
        return cls(
            volume=float(weights["volume"]),
            speed=float(weights["speed"]),
            completeness=float(weights["completeness"]),
            min_incidents=int(data.get("min_incidents", 2)),
            prior_strength=float(data.get("prior_strength", 5)),
            level=float(data.get("level", 0.9)),
        )


@dataclass(frozen=True, slots=True)
class Counts:
    """Raw tallies of one unit (or one department × block cell) for one period."""

    received: int = 0
    messages: int = 0
    workload: int = 0
    overdue_open: int = 0
    late_decided: int = 0
    judged: int = 0
    on_time: int = 0
    decided: int = 0
    merits: int = 0
    reopened: int = 0
    rejected: int = 0
    answers: int = 0
    formal_answers: int = 0
    verdict_yes: int = 0
    verdict_partial: int = 0
    verdict_no: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def handled(self) -> int:
        """Incidents of the workload that were not overdue at the end nor decided late."""
        return self.workload - self.overdue_open - self.late_decided


@dataclass(frozen=True, slots=True)
class UnitInput:
    """What the scorer needs about one unit: identity, tallies, answer times in hours."""

    key: str
    name: str
    counts: Counts
    answer_hours: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class Share:
    """A success share: raw, shrunk toward the pooled mean, and its credible interval."""

    successes: int
    trials: int
    raw: float | None
    estimate: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True, slots=True)
class UnitScore:
    """One unit's metrics, criterion scores, index and place."""

    key: str
    name: str
    counts: Counts
    median_hours: float | None
    p90_hours: float | None
    volume: Share
    speed: Share
    completeness: Share
    index: float | None
    index_low: float | None
    index_high: float | None
    status: str
    rank: int | None = None
    previous_rank: int | None = None
    rank_change: int | None = None

    @property
    def reopen_rate(self) -> float | None:
        """Share of decided incidents that citizens reopened."""
        return _ratio(self.counts.reopened, self.counts.decided)

    @property
    def formal_share(self) -> float | None:
        """Share of answers flagged as «отписка»."""
        return _ratio(self.counts.formal_answers, self.counts.answers)


@dataclass(frozen=True, slots=True)
class RatingResult:
    """A computed (or stored) weekly rating."""

    week: str
    timezone: str
    start: datetime
    end: datetime
    as_of: datetime
    computed_at: datetime
    config: RatingConfig
    units: tuple[UnitScore, ...]
    blocks: tuple[UnitScore, ...] = ()
    published_at: datetime | None = None


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def percentile(*, values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) with linear interpolation between order statistics."""
    if not 0 <= q <= 1:
        raise ValueError(f"q must be in [0, 1], got {q}")
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    lower = math.floor(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (position - lower) * (ordered[upper] - ordered[lower])


def pooled_mean(*, pairs: Iterable[tuple[int, int]]) -> float | None:
    """Σ successes / Σ trials over all units; None when nobody has a trial."""
    successes = trials = 0
    for hit, total in pairs:
        successes += hit
        trials += total
    return successes / trials if trials else None


def shrink(
    *, successes: int, trials: int, prior_mean: float | None, prior_strength: float, level: float
) -> Share:
    """Beta-binomial posterior: mean (x + k·m)/(n + k) and the central ``level`` interval."""
    if not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")
    raw = _ratio(successes, trials)
    alpha = successes + prior_strength * (prior_mean or 0.0)
    beta = trials - successes + prior_strength * (1.0 - (prior_mean or 0.0))
    if prior_mean is None or alpha + beta == 0:
        return Share(successes, trials, raw, None, None, None)
    estimate = alpha / (alpha + beta)
    tail = (1.0 - level) / 2
    a, b = max(alpha, _MIN_BETA_PARAM), max(beta, _MIN_BETA_PARAM)
    low = float(betaincinv(a, b, tail))
    high = float(betaincinv(a, b, 1.0 - tail))
    return Share(successes, trials, raw, estimate, min(low, estimate), max(high, estimate))


def combine_index(*, parts: Sequence[tuple[float, float | None]]) -> float | None:
    """100 × weighted mean of the available criterion scores; None when none is available."""
    usable = [(weight, value) for weight, value in parts if value is not None and weight > 0]
    total = sum(weight for weight, _ in usable)
    if total <= 0:
        return None
    return 100.0 * sum(weight * value for weight, value in usable) / total


def _score_one(
    unit: UnitInput, *, config: RatingConfig, means: tuple[float | None, float | None, float | None]
) -> UnitScore:
    """Score one unit against the pooled means of all units."""
    c = unit.counts
    tallies = ((c.handled, c.workload), (c.on_time, c.judged), (c.merits, c.decided))
    volume, speed, completeness = (
        shrink(
            successes=hit,
            trials=total,
            prior_mean=mean,
            prior_strength=config.prior_strength,
            level=config.level,
        )
        for (hit, total), mean in zip(tallies, means, strict=True)
    )
    weights = (config.volume, config.speed, config.completeness)

    def index_of(pick: Callable[[Share], float | None]) -> float | None:
        values = (pick(volume), pick(speed), pick(completeness))
        return combine_index(parts=list(zip(weights, values, strict=True)))

    index = index_of(lambda s: s.estimate)
    eligible = c.workload >= config.min_incidents and index is not None
    return UnitScore(
        key=unit.key,
        name=unit.name,
        counts=c,
        median_hours=percentile(values=unit.answer_hours, q=0.5),
        p90_hours=percentile(values=unit.answer_hours, q=0.9),
        volume=volume,
        speed=speed,
        completeness=completeness,
        index=index if eligible else None,
        index_low=index_of(lambda s: s.low) if eligible else None,
        index_high=index_of(lambda s: s.high) if eligible else None,
        status=RANKED if eligible else INSUFFICIENT,
    )


def score_units(*, units: Sequence[UnitInput], config: RatingConfig) -> list[UnitScore]:
    """Score and rank every unit; the prior mean of each criterion is pooled over all units."""
    means = (
        pooled_mean(pairs=((u.counts.handled, u.counts.workload) for u in units)),
        pooled_mean(pairs=((u.counts.on_time, u.counts.judged) for u in units)),
        pooled_mean(pairs=((u.counts.merits, u.counts.decided) for u in units)),
    )
    return rank_units(units=[_score_one(u, config=config, means=means) for u in units])


def rank_units(*, units: Sequence[UnitScore]) -> list[UnitScore]:
    """Competition ranks (1, 2, 2, 4) by the index rounded to 0.1; unranked units last."""
    ranked = sorted(
        (u for u in units if u.index is not None), key=lambda u: (-round(u.index or 0, 1), u.name)
    )
    result: list[UnitScore] = []
    for position, unit in enumerate(ranked, start=1):
        tied = result and round(result[-1].index or 0, 1) == round(unit.index or 0, 1)
        rank = result[-1].rank if tied else position
        result.append(replace(unit, rank=rank))
    rest = sorted((u for u in units if u.index is None), key=lambda u: u.name)
    return result + [replace(u, rank=None) for u in rest]


def apply_previous_ranks(
    *, units: Sequence[UnitScore], previous: Mapping[str, int | None]
) -> list[UnitScore]:
    """Attach last week's rank and the change (positive: moved up the table)."""
    out = []
    for unit in units:
        before = previous.get(unit.key)
        change = before - unit.rank if before is not None and unit.rank is not None else None
        out.append(replace(unit, previous_rank=before, rank_change=change))
    return out


def movers(*, units: Sequence[UnitScore], limit: int = 5) -> list[UnitScore]:
    """Units whose rank changed, the largest moves first."""
    moved = [u for u in units if u.rank_change]
    return sorted(moved, key=lambda u: (-abs(u.rank_change or 0), u.name))[:limit]
