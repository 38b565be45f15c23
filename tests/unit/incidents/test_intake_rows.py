"""Pure parts of intake's bulk path: plain incident rows, joins, the values bound in bulk."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import sqlite

from core.models import Incident
from incidents.dedupe import DupKey, Place
from incidents.repository_bulk import recordset, sqlite_datetime
from incidents.rows import COLUMNS, JOIN_COLUMNS, IncidentRow, TextAndPlace, after_join

AT = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


def _key(words: str, place: Place) -> DupKey:
    return DupKey("housing", place, tuple(words.split()), AT)


def test_a_row_has_every_column_of_the_incidents_table() -> None:
    table_columns = {column.key for column in Incident.__table__.columns}
    assert set(COLUMNS) == table_columns
    assert set(JOIN_COLUMNS) < table_columns


def test_row_values_round_trip() -> None:
    values = {name: None for name in COLUMNS} | {"id": 7, "title": "Нет воды", "message_count": 2}
    row = IncidentRow.from_mapping(values)
    assert row.values() == values
    row.message_count += 1
    assert row.values()["message_count"] == 3


def test_a_join_adds_words_and_fills_only_the_missing_place() -> None:
    before = TextAndPlace("прорва труб", "Амурзет", None, None)
    after = after_join(before, _key("труб хлещ вод", Place("Пузино", "Ленина", "12")))
    assert after == TextAndPlace("прорва труб хлещ вод", "Амурзет", "Ленина", "12")
    # Nothing new: the same text and place.
    assert after_join(after, _key("вод", Place())) == after


def test_a_join_clips_the_place_to_the_column_sizes() -> None:
    after = after_join(
        TextAndPlace(None, None, None, None), _key("", Place("с" * 200, None, "1" * 30))
    )
    assert after.settlement == "с" * 120 and after.house == "1" * 20 and after.fingerprint == ""


@pytest.mark.parametrize(
    "moment",
    [
        AT,
        AT.replace(microsecond=123456),
        datetime(2026, 12, 31, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=10))),
    ],
)
def test_sqlite_datetimes_are_bound_as_sqlalchemy_stores_them(moment: datetime) -> None:
    generic = sqlite.DATETIME().bind_processor(sqlite.dialect())
    assert generic is not None
    assert sqlite_datetime(moment) == generic(moment.astimezone(UTC).replace(tzinfo=None))
    assert sqlite_datetime(None) is None
    with pytest.raises(ValueError, match="naive"):
        sqlite_datetime(moment.replace(tzinfo=None))


def test_a_recordset_carries_datetimes_with_their_offset_and_refuses_nan() -> None:
    rows = [{"at": AT, "payload": {"reason": "текст"}, "lat": 47.7}]
    assert json.loads(recordset(rows)) == [
        {"at": "2026-03-02T00:00:00+00:00", "payload": {"reason": "текст"}, "lat": 47.7}
    ]
    with pytest.raises(ValueError):
        recordset([{"lat": float("nan")}])
    with pytest.raises(ValueError, match="naive"):
        recordset([{"at": AT.replace(tzinfo=None)}])
