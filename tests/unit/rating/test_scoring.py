"""Scoring on the hand-computed example of docs/rating.md and on the edge cases."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.reference import load_reference
from config.settings import CONFIG_DIR
from rating.scoring import (
    INSUFFICIENT,
    RANKED,
    Counts,
    RatingConfig,
    UnitInput,
    UnitScore,
    apply_previous_ranks,
    combine_index,
    movers,
    percentile,
    pooled_mean,
    score_units,
    shrink,
)

CONFIG = RatingConfig(volume=0.2, speed=0.4, completeness=0.4, min_incidents=2, prior_strength=5)
EXACT = 1e-12

# docs/rating.md, «Пример»: А is big and good, Б small and slower, В has one 4-minute answer.
A = UnitInput(
    key="a",
    name="Отдел А",
    counts=Counts(received=18, workload=20, overdue_open=2, late_decided=1, judged=10, on_time=9,
                  decided=8, merits=7),
)  # fmt: skip
B = UnitInput(
    key="b",
    name="Отдел Б",
    counts=Counts(received=4, workload=4, overdue_open=1, judged=4, on_time=2, decided=2, merits=2),
)
C = UnitInput(key="c", name="Отдел В", counts=Counts(received=1, workload=1, judged=1, on_time=1))
D = UnitInput(key="d", name="Отдел Г", counts=Counts())


def _by_key(units: list[UnitScore]) -> dict[str, UnitScore]:
    return {u.key: u for u in units}


def test_worked_example_shrunk_criteria() -> None:
    units = _by_key(score_units(units=[A, B, C, D], config=CONFIG))
    # Pooled means: volume 21/25 = 0.84, speed 12/15 = 0.8, completeness 9/10 = 0.9.
    assert units["a"].volume.estimate == pytest.approx((17 + 5 * 0.84) / 25, abs=EXACT)
    assert units["a"].speed.estimate == pytest.approx(13 / 15, abs=EXACT)
    assert units["a"].completeness.estimate == pytest.approx(11.5 / 13, abs=EXACT)
    assert units["b"].volume.estimate == pytest.approx(7.2 / 9, abs=EXACT)
    assert units["b"].speed.estimate == pytest.approx(6 / 9, abs=EXACT)
    assert units["b"].completeness.estimate == pytest.approx(6.5 / 7, abs=EXACT)
    # With no trials a criterion is exactly the pooled mean.
    assert units["d"].speed.estimate == pytest.approx(0.8, abs=EXACT)
    assert units["d"].speed.raw is None


def test_worked_example_index_and_ranks() -> None:
    units = _by_key(score_units(units=[A, B, C, D], config=CONFIG))
    expected_a = 100 * (0.2 * 21.2 / 25 + 0.4 * 13 / 15 + 0.4 * 11.5 / 13)
    expected_b = 100 * (0.2 * 7.2 / 9 + 0.4 * 6 / 9 + 0.4 * 6.5 / 7)
    assert units["a"].index == pytest.approx(expected_a, abs=1e-9)
    assert round(expected_a, 1) == 87.0 and round(expected_b, 1) == 79.8
    assert units["b"].index == pytest.approx(expected_b, abs=1e-9)
    assert (units["a"].rank, units["b"].rank) == (1, 2)
    for key in ("c", "d"):
        assert (units[key].status, units[key].rank, units[key].index) == (INSUFFICIENT, None, None)


def test_interval_is_the_beta_posterior_quantiles() -> None:
    units = _by_key(score_units(units=[A, B, C, D], config=CONFIG))
    speed = units["a"].speed
    # Posterior Beta(9 + 4, 1 + 1) = Beta(13, 2), whose CDF is x^13 (14 - 13x).
    assert speed.low is not None and speed.high is not None
    assert speed.low**13 * (14 - 13 * speed.low) == pytest.approx(0.05, abs=1e-9)
    assert speed.high**13 * (14 - 13 * speed.high) == pytest.approx(0.95, abs=1e-9)
    index = units["a"]
    assert index.index_low is not None and index.index_high is not None
    assert index.index_low < index.index < index.index_high  # type: ignore[operator]


def test_single_four_minute_answer_does_not_top_even_when_eligible() -> None:
    config = replace(CONFIG, min_incidents=1)
    units = score_units(units=[A, B, C, D], config=config)
    assert [u.key for u in units if u.rank is not None] == ["a", "c", "b"]
    c = _by_key(units)["c"]
    assert c.speed.raw == 1.0 and c.speed.estimate == pytest.approx(5 / 6, abs=EXACT)
    assert c.index == pytest.approx(100 * (0.2 * 5.2 / 6 + 0.4 * 5 / 6 + 0.4 * 0.9), abs=1e-9)


def test_without_shrinkage_the_single_answer_would_top() -> None:
    # Why prior_strength exists: with k = 0 one lucky incident scores 100.
    config = replace(CONFIG, min_incidents=1, prior_strength=0)
    units = score_units(units=[A, B, C], config=config)
    assert units[0].key == "c" and units[0].index == pytest.approx(100.0)


def test_all_overdue_ranks_last() -> None:
    late = UnitInput(
        key="late",
        name="Отдел просрочек",
        counts=Counts(received=6, workload=6, overdue_open=6, judged=6, on_time=0),
    )
    units = score_units(units=[A, B, late], config=CONFIG)
    worst = units[2]
    assert worst.key == "late" and worst.rank == 3
    assert worst.volume.raw == 0.0 and worst.speed.raw == 0.0
    pooled_volume = (17 + 3 + 0) / (20 + 4 + 6)
    assert worst.volume.estimate == pytest.approx(5 * pooled_volume / 11, abs=EXACT)


def test_only_rejected_gets_no_completeness() -> None:
    rejected = UnitInput(
        key="rej",
        name="Отдел отказов",
        counts=Counts(received=5, workload=5, judged=5, on_time=5, decided=5, rejected=5),
    )
    unit = _by_key(score_units(units=[A, rejected], config=CONFIG))["rej"]
    assert unit.completeness.raw == 0.0
    assert unit.completeness.estimate == pytest.approx(5 * (7 / 13) / 10, abs=EXACT)
    assert unit.status == RANKED


def test_no_data_anywhere_gives_no_index() -> None:
    units = score_units(units=[D, replace(D, key="e", name="Отдел Д")], config=CONFIG)
    assert all(u.index is None and u.rank is None and u.status == INSUFFICIENT for u in units)


def test_missing_criterion_is_left_out_of_the_weights() -> None:
    only_volume = UnitInput(key="v", name="Отдел", counts=Counts(workload=4, overdue_open=1))
    unit = score_units(units=[only_volume], config=CONFIG)[0]
    assert unit.speed.estimate is None
    assert unit.index == pytest.approx(75.0, abs=EXACT)  # (3 + 5·0.75)/(4 + 5) = 0.75


def test_ties_share_a_rank() -> None:
    twin = replace(A, key="a2", name="Отдел А-2")
    ranks = [(u.key, u.rank) for u in score_units(units=[A, twin, B], config=CONFIG)]
    assert ranks == [("a", 1), ("a2", 1), ("b", 3)]


def test_previous_ranks_and_movers() -> None:
    units = score_units(units=[A, B, C], config=CONFIG)
    moved = apply_previous_ranks(units=units, previous={"a": 2, "b": 1, "c": 3})
    changes = {u.key: (u.previous_rank, u.rank_change) for u in moved}
    assert changes == {"a": (2, 1), "b": (1, -1), "c": (3, None)}
    assert [u.key for u in movers(units=moved)] == ["a", "b"]


def test_percentile_interpolates_like_excel_percentile_inc() -> None:
    hours = [2.0, 9.0, 22.0, 2.0, 5.0, 8.5, 32.0]
    assert percentile(values=hours, q=0.5) == 8.5
    assert percentile(values=hours, q=0.9) == pytest.approx(26.0, abs=EXACT)
    assert percentile(values=[4.0], q=0.9) == 4.0
    assert percentile(values=[], q=0.5) is None
    with pytest.raises(ValueError):
        percentile(values=hours, q=1.5)


def test_pooled_mean_and_combine_index() -> None:
    assert pooled_mean(pairs=[(17, 20), (3, 4), (1, 1)]) == pytest.approx(0.84)
    assert pooled_mean(pairs=[(0, 0)]) is None
    assert combine_index(parts=[(0.5, 1.0), (0.5, None), (0.0, 0.0)]) == 100.0
    assert combine_index(parts=[(1.0, None)]) is None


def test_config_from_the_shipped_rating_yaml() -> None:
    ref = load_reference(CONFIG_DIR)
    cfg = RatingConfig.from_mapping(ref.rating.model_dump())
    assert (cfg.volume, cfg.speed, cfg.completeness) == (0.2, 0.4, 0.4)
    assert (cfg.min_incidents, cfg.prior_strength) == (2, 5.0)


def test_config_validation_and_mapping() -> None:
    cfg = RatingConfig.from_mapping(
        {"weights": {"volume": 0.2, "speed": 0.4, "completeness": 0.4}, "prior_strength": 5}
    )
    assert (cfg.min_incidents, cfg.prior_strength, cfg.level) == (2, 5.0, 0.9)
    with pytest.raises(ValueError):
        RatingConfig(volume=0, speed=0, completeness=0)
    with pytest.raises(ValueError):
        RatingConfig(volume=1, speed=-1, completeness=0)
    with pytest.raises(ValueError):
        RatingConfig(volume=1, speed=1, completeness=1, min_incidents=0)
    with pytest.raises(ValueError):
        shrink(successes=3, trials=2, prior_mean=0.5, prior_strength=5, level=0.9)


@settings(deadline=None)
@given(
    successes=st.integers(0, 200),
    extra=st.integers(0, 200),
    mean=st.floats(0, 1),
    strength=st.floats(0, 50),
)
def test_shrunk_share_lies_between_raw_and_prior(
    successes: int, extra: int, mean: float, strength: float
) -> None:
    trials = successes + extra
    share = shrink(
        successes=successes, trials=trials, prior_mean=mean, prior_strength=strength, level=0.9
    )
    if trials + strength == 0:
        assert share.estimate is None
        return
    assert share.estimate is not None and share.low is not None and share.high is not None
    raw = successes / trials if trials else mean
    assert min(raw, mean) - 1e-9 <= share.estimate <= max(raw, mean) + 1e-9
    assert 0 <= share.low <= share.estimate <= share.high <= 1


@settings(deadline=None)
@given(hits=st.integers(0, 30), misses=st.integers(0, 30))
def test_one_more_success_never_lowers_the_index(hits: int, misses: int) -> None:
    def index(on_time: int) -> float:
        unit = UnitInput(
            key="x", name="X", counts=Counts(workload=5, judged=hits + misses + 1, on_time=on_time)
        )
        scored = score_units(units=[A, unit], config=CONFIG)
        value = next(u.index for u in scored if u.key == "x")
        assert value is not None and 0 <= value <= 100
        return value

    assert index(hits + 1) >= index(hits) - 1e-9


def test_min_incidents_is_inclusive() -> None:
    two = UnitInput(key="two", name="Два", counts=Counts(workload=2, judged=2, on_time=2))
    one = UnitInput(key="one", name="Один", counts=Counts(workload=1, judged=1, on_time=1))
    units = _by_key(score_units(units=[two, one], config=CONFIG))
    assert units["two"].status == RANKED and units["two"].rank == 1
    assert units["one"].status == INSUFFICIENT
