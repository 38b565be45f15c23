"""A worker sheds keep-alive connections only while it holds more than its share."""

from __future__ import annotations

import pytest

from app.server import over_share


@pytest.mark.parametrize(
    ("counts", "me", "over"),
    [
        ([32, 18], 0, True),  # the kernel's hash at its worst seen: the 32 shed
        ([32, 18], 1, False),
        ([26, 24], 0, True),  # share 25
        ([25, 25], 0, False),
        ([25, 24], 0, False),  # share of 49 is 25 (rounded up): no shedding back and forth
        ([0, 0], 0, False),
        ([1, 0], 0, False),
        ([2, 0], 0, True),
        ([10, 10, 13], 2, True),  # three workers: share 11
        ([11, 11, 11], 2, False),
    ],
)
def test_over_share(counts: list[int], me: int, over: bool) -> None:
    assert over_share(counts, me) is over
