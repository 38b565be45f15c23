"""The CLI JSON shape and the snapshot payload round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rating.scoring import Counts, RatingConfig, RatingResult, UnitInput, score_units
from rating.serialize import from_payload, page_dict, to_json_dict, to_payload

CONFIG = RatingConfig(volume=0.2, speed=0.4, completeness=0.4)


def _result() -> RatingResult:
    units = score_units(
        units=[
            UnitInput(
                key="gkh",
                name="Отдел ЖКХ",
                counts=Counts(
                    workload=20,
                    overdue_open=2,
                    judged=10,
                    on_time=9,
                    decided=8,
                    merits=7,
                    answers=10,
                    formal_answers=1,
                ),
                answer_hours=(1.0, 2.0, 4.5),
            ),
            UnitInput(key="edu", name="Отдел образования", counts=Counts(workload=1)),
        ],
        config=CONFIG,
    )
    return RatingResult(
        week="2026-W47",
        timezone="Asia/Vladivostok",
        start=datetime(2026, 11, 15, 14, tzinfo=UTC),
        end=datetime(2026, 11, 22, 14, tzinfo=UTC),
        as_of=datetime(2026, 11, 22, 14, tzinfo=UTC),
        computed_at=datetime(2026, 11, 22, 23, tzinfo=UTC),
        config=CONFIG,
        units=tuple(units),
        blocks=tuple(units),
    )


def test_cli_json_shape() -> None:
    data = to_json_dict(_result())
    assert list(data) == ["week", "units"] and data["week"] == "2026-W47"
    first, second = data["units"]
    assert list(first)[:7] == ["department", "rank", "index", "volume", "speed", "completeness",
                               "incidents"]  # fmt: skip
    assert (first["department"], first["rank"], first["incidents"]) == ("Отдел ЖКХ", 1, 20)
    assert isinstance(first["index"], float) and 0 <= first["index"] <= 100
    assert first["median_first_answer_hours"] == 2.0 and first["formal_share"] == 0.1
    assert second["rank"] is None and second["index"] is None and second["speed"] is None
    assert second["status_text"] == "недостаточно данных"
    json.dumps(data)


def test_payload_round_trip_is_exact() -> None:
    result = _result()
    payload = json.loads(json.dumps(to_payload(result)))
    assert from_payload(payload) == result


def test_page_dict_has_period_and_movers() -> None:
    page = page_dict(_result())
    assert page["title"] == "Рейтинг отделов за неделю 2026-W47"
    assert page["period"] == "16.11.2026–22.11.2026"
    assert page["movers"] == [] and len(page["blocks"]) == 2
