"""REST intake payload: validation limits, Russian messages, mapping and tracking numbers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from collectors.portal import (
    MAX_TEXT_CHARS,
    IntakePayload,
    accepted,
    parse_tracking_number,
    to_raw,
    tracking_number,
    validation_errors,
)

NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _payload(**fields: Any) -> IntakePayload:
    body = {"external_id": "site-1", "text": "Нет света на ул. Ленина"} | fields
    return IntakePayload.model_validate_json(json.dumps(body))


def _error_types(raw: str) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        IntakePayload.model_validate_json(raw)
    return [e["type"] for e in caught.value.errors()]


def test_full_payload_maps_to_raw_message_with_pseudonymous_author() -> None:
    payload = _payload(
        author="Иван Петров",
        created_at="2026-11-19T10:00:00+10:00",
        url="https://site.example/a/1",
        place="Амурзет, ул. Ленина 5",
        lat=47.69,
        lon=131.1,
    )
    raw = to_raw(payload, source_name="site", now=NOW, secret="s")
    assert (raw.source, raw.external_id, raw.text) == ("site", "site-1", "Нет света на ул. Ленина")
    assert raw.created_at == datetime(2026, 11, 19, 0, 0, tzinfo=UTC)
    assert raw.author_name == "Иван Петров"
    assert raw.author_id is not None and raw.author_id.startswith("portal:")
    assert "Иван" not in raw.author_id
    assert raw.url == "https://site.example/a/1" and raw.place_text == "Амурзет, ул. Ленина 5"
    assert raw.geo is not None and (raw.geo.lat, raw.geo.lon) == (47.69, 131.1)


def test_same_author_on_other_source_is_another_pseudonym() -> None:
    payload = _payload(author="Иван")
    one = to_raw(payload, source_name="site-a", now=NOW, secret="s").author_id
    other = to_raw(payload, source_name="site-b", now=NOW, secret="s").author_id
    assert one != other
    assert one == to_raw(payload, source_name="site-a", now=NOW, secret="s").author_id


def test_missing_or_future_created_at_becomes_now() -> None:
    assert to_raw(_payload(), source_name="s", now=NOW, secret="s").created_at == NOW
    future = (NOW + timedelta(days=2)).isoformat()
    assert (
        to_raw(_payload(created_at=future), source_name="s", now=NOW, secret="s").created_at == NOW
    )


def test_nul_bytes_and_edge_spaces_are_stripped_html_is_kept() -> None:
    payload = _payload(text="  нет\x00 воды  ", external_id=" a\x00b ")
    assert (payload.text, payload.external_id) == ("нет воды", "ab")
    assert _payload(text=XSS).text == XSS


def test_text_limits_are_exact() -> None:
    assert len(_payload(text="я" * MAX_TEXT_CHARS).text) == MAX_TEXT_CHARS
    too_long = json.dumps({"external_id": "1", "text": "я" * (MAX_TEXT_CHARS + 1)})
    assert _error_types(too_long) == ["text_too_long"]
    assert _error_types('{"external_id": "1", "text": " \\u0000 "}') == ["text_empty"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"external_id": "1"}', ["missing"]),
        ('{"external_id": "1", "text": 5}', ["string_type"]),
        ('{"external_id": 7, "text": "a"}', ["string_type"]),
        ('{"external_id": "1", "text": "a", "txt": "b"}', ["extra_forbidden"]),
        ('{"external_id": "1", "text": "a", "lat": 91, "lon": 0}', ["lat_range"]),
        ('{"external_id": "1", "text": "a", "lat": 47}', ["geo_pair"]),
        ('{"external_id": "1", "text": "a", "lon": 181, "lat": 0}', ["lon_range"]),
        (
            '{"external_id": "1", "text": "a", "created_at": "2026-11-19T10:00:00"}',
            ["timezone_missing"],
        ),
        (
            '{"external_id": "1", "text": "a", "created_at": "вчера"}',
            ["datetime_from_date_parsing"],
        ),
        ('{"external_id": "1", "text": "a", "url": "javascript:alert(1)"}', ["url_scheme"]),
        ('{"external_id": "", "text": "a"}', ["external_id_empty"]),
        ('{"external_id": "1", "text": "a"', ["json_invalid"]),
        ('["external_id", "text"]', ["model_type"]),
    ],
)
def test_bad_payloads_give_typed_errors(raw: str, expected: list[str]) -> None:
    assert _error_types(raw) == expected


def test_error_messages_are_russian_and_never_echo_the_input() -> None:
    with pytest.raises(ValidationError) as caught:
        IntakePayload.model_validate_json(
            json.dumps({"external_id": "1", "text": XSS + "я" * MAX_TEXT_CHARS})
        )
    errors = validation_errors(caught.value.errors())
    assert errors == [
        {
            "type": "text_too_long",
            "loc": ["body", "text"],
            "msg": f"Текст длиннее 100000 символов ({len(XSS) + MAX_TEXT_CHARS})",
        }
    ]
    assert "script" not in json.dumps(errors)


def test_accepted_body_and_tracking_number() -> None:
    assert accepted(123) == {"id": 123, "tracking_number": "П-000123", "status": "accepted"}
    assert tracking_number(1234567) == "П-1234567"
    assert parse_tracking_number(" п-000123 ") == 123
    assert parse_tracking_number("P-42") == 42
    assert parse_tracking_number("МЦУ-2026-000123") is None
    assert parse_tracking_number("П-") is None


@given(st.integers(min_value=0, max_value=10**12 - 1))
def test_tracking_number_round_trips(message_id: int) -> None:
    assert parse_tracking_number(tracking_number(message_id)) == message_id
