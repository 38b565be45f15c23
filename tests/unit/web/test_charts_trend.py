"""Line geometry of the rating trend: a week without data is a gap, never a zero."""

from __future__ import annotations

from web.pages.charts import line_plot

WEEKS = ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
BOX = (30.0, 20.0, 200.0, 100.0)  # left, top, width, height: 50 px per week


def test_gaps_break_the_line_and_get_no_marker() -> None:
    plot = line_plot([80.0, None, 50.0, 100.0], WEEKS, box=BOX)
    # x: the middle of each 50-px slot; y: 100 at the top (20), 0 at the bottom (120).
    assert plot.segments == ["155.0,70.0 205.0,20.0"]
    assert [(p.x, p.y, p.value, p.label, p.position) for p in plot.points] == [
        (55.0, 40.0, 80.0, "2026-W44", 0),
        (155.0, 70.0, 50.0, "2026-W46", 2),
        (205.0, 20.0, 100.0, "2026-W47", 3),
    ]
    assert plot.x_ticks == [(55.0, "2026-W44"), (105.0, "2026-W45"), (155.0, "2026-W46"),
                            (205.0, "2026-W47")]  # fmt: skip
    assert plot.y_ticks == [(120.0, 0), (70.0, 50), (20.0, 100)]


def test_zero_is_drawn_at_the_bottom_and_lone_values_are_markers_only() -> None:
    plot = line_plot([None, 0.0, None, 40.0], WEEKS, box=BOX, solid=[True, True, False, False])
    assert plot.segments == []
    assert [(p.y, p.solid) for p in plot.points] == [(120.0, True), (80.0, False)]


def test_values_outside_the_scale_are_clamped_and_empty_series_draw_nothing() -> None:
    plot = line_plot([120.0, -5.0], WEEKS[:2], box=(0.0, 0.0, 100.0, 100.0))
    assert [p.y for p in plot.points] == [0.0, 100.0]
    empty = line_plot([None, None], WEEKS[:2], box=BOX)
    assert empty.segments == [] and empty.points == []
