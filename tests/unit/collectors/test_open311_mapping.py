"""Open311 GeoReport v2 mapping, checked field by field against the spec's lists."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collectors import open311
from collectors.open311 import IncidentFacts, Open311Error, RequestView
from collectors.open311_render import render, to_json, to_xml

TZ = ZoneInfo("Asia/Vladivostok")
NOW = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
SERVICES = {"roads": "Дорожная деятельность", "housing": "Жилищно-коммунальное хозяйство"}
TOKEN = "0123456789abcdef0123456789abcdef"
XSS = '<script>alert("x")</script>&'
# The spec's field lists (GeoReport v2, "GET Service List" and "GET Service Requests").
SPEC_SERVICE_FIELDS = [
    "service_code", "service_name", "description", "metadata", "type", "keywords", "group",
]  # fmt: skip
SPEC_REQUEST_FIELDS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat", "long",
    "media_url",
]  # fmt: skip


def _form(**fields: str) -> dict[str, list[str]]:
    return {key: [value] for key, value in fields.items()}


def _fail(form: dict[str, list[str]]) -> Open311Error:
    with pytest.raises(Open311Error) as caught:
        open311.parse_submission(form, services=SERVICES)
    return caught.value


def _view(incident: IncidentFacts | None = None, **fields: Any) -> RequestView:
    base: dict[str, Any] = {
        "message_id": 42,
        "external_id": f"roads:{TOKEN}",
        "text": "Яма у школы",
        "received_at": NOW,
        "place_text": "ул. Ленина 5",
        "lat": 47.7,
        "lon": 131.1,
        "attachments": ("https://img.example/1.jpg",),
        "incident": incident,
    }
    return RequestView(**(base | fields))


def _incident(**fields: Any) -> IncidentFacts:
    base: dict[str, Any] = {
        "number": "МЦУ-2026-000007",
        "status": "resolved",
        "block_code": "housing",
        "department": "Отдел ЖКХ",
        "updated_at": NOW + timedelta(hours=5),
        "due_at": NOW + timedelta(days=3),
        "closed_at": NOW + timedelta(hours=4),
        "address": "Ленина 5, Амурзет",
        "lat": None,
        "lon": None,
        "latest_answer": "Яму засыпали.",
    }
    return IncidentFacts(**(base | fields))


def test_service_list_has_the_spec_fields_in_order() -> None:
    services = open311.service_list([("roads", "Дорожная деятельность")])
    assert [list(s) for s in services] == [SPEC_SERVICE_FIELDS]
    service = services[0]
    assert (service["service_code"], service["service_name"]) == ("roads", "Дорожная деятельность")
    assert service["metadata"] is False and service["type"] == "realtime"
    assert "яма" in service["keywords"] and service["group"] == "Дорожная деятельность"
    assert open311.service_definition("roads") == {"service_code": "roads", "attributes": []}


def test_full_submission_maps_to_a_raw_message() -> None:
    form = _form(
        api_key="k", jurisdiction_id="x", service_code="roads", lat="47.7", long="131.1",
        address_string="Амурзет, ул. Ленина 5", email="Ivan@Example.ru", phone="+79990001122",
        first_name="Иван", last_name="Петров", description="Яма\nу школы", device_id="d1",
        media_url="https://img.example/1.jpg",
    ) | {"attribute[DEPTH][]": ["30", "40"], "attribute[SIDE]": ["left"]}  # fmt: skip
    sub = open311.parse_submission(form, services=SERVICES)
    assert sub.attributes == {"DEPTH": ["30", "40"], "SIDE": ["left"]}
    raw = open311.to_raw(
        sub, source_name="o311", token=TOKEN, service_name="Дороги", now=NOW, secret="s"
    )
    assert raw.external_id == f"roads:{TOKEN}" and raw.text == "Яма\nу школы"
    assert raw.geo is not None and (raw.geo.lat, raw.geo.lon) == (47.7, 131.1)
    assert raw.place_text == "Амурзет, ул. Ленина 5" and raw.attachments == (
        "https://img.example/1.jpg",
    )
    assert raw.contact == "Ivan@Example.ru; +79990001122" and raw.author_name == "Иван Петров"
    assert raw.author_id is not None and raw.author_id.startswith("open311:")
    assert "ivan" not in raw.author_id.lower()
    same_person = open311.parse_submission(
        _form(service_code="roads", address_id="7", email="ivan@example.ru"), services=SERVICES
    )
    other = open311.to_raw(
        same_person, source_name="o311", token=TOKEN, service_name="Д", now=NOW, secret="s"
    )
    assert other.author_id == raw.author_id
    assert (
        other.text == "Д (без описания)"
        and other.place_text == "address_id 7"
        and other.geo is None
    )


@pytest.mark.parametrize(
    ("form", "status", "needle"),
    [
        (_form(lat="1", long="1"), 400, "service_code"),
        (_form(service_code="", lat="1", long="1"), 400, "service_code"),
        (_form(service_code="parking", lat="1", long="1"), 404, "parking"),
        (_form(service_code="roads"), 400, "Укажите место"),
        (_form(service_code="roads", lat="47"), 400, "только вместе"),
        (_form(service_code="roads", lat="x", long="131"), 400, "ожидается число"),
        (_form(service_code="roads", lat="95", long="131"), 400, "вне диапазона"),
        (_form(service_code="roads", lat="nan", long="131"), 400, "вне диапазона"),
        (_form(service_code="roads", address_id="1", description="я" * 4001), 400, "4000"),
        (_form(service_code="roads", address_id="1", email="not-an-email"), 400, "email"),
        (_form(service_code="roads", address_id="1", media_url="javascript:x"), 400, "media_url"),
    ],
)
def test_bad_submissions_get_the_spec_status(
    form: dict[str, list[str]], status: int, needle: str
) -> None:
    error = _fail(form)
    assert error.status == status
    assert error.errors and all(set(e) == {"code", "description"} for e in error.errors)
    assert needle in error.errors[0]["description"]


def test_every_problem_is_reported_at_once_and_limits_are_exact() -> None:
    error = _fail(_form(service_code="roads", lat="95", long="200", email="x"))
    assert len(error.errors) == 3
    ok = open311.parse_submission(
        _form(service_code="roads", address_string="a", description="я" * 4000), services=SERVICES
    )
    assert ok.description is not None and len(ok.description) == 4000
    empty = open311.parse_submission(
        _form(service_code="roads", address_string="a", email="", lat="", long=""),
        services=SERVICES,
    )
    assert (empty.email, empty.lat) == (None, None)


def test_external_id_round_trip() -> None:
    assert open311.split_external_id(open311.make_external_id("roads", TOKEN)) == ("roads", TOKEN)
    assert open311.split_external_id("roads:short") is None
    assert open311.split_external_id("12345") is None
    assert open311.TOKEN_RE.match(open311.new_token())


def test_pending_request_is_open_without_notes() -> None:
    item = open311.request_dict(_view(), services=SERVICES, tz=TZ)
    assert list(item) == SPEC_REQUEST_FIELDS
    assert item == {
        "service_request_id": "42", "status": "open", "status_notes": None,
        "service_name": "Дорожная деятельность", "service_code": "roads",
        "description": "Яма у школы", "agency_responsible": None,
        "service_notice": open311.PENDING_NOTICE,
        "requested_datetime": "2026-11-20T11:00:00+10:00",
        "updated_datetime": "2026-11-20T11:00:00+10:00", "expected_datetime": None,
        "address": "ул. Ленина 5", "address_id": None, "zipcode": None, "lat": 47.7,
        "long": 131.1, "media_url": "https://img.example/1.jpg",
    }  # fmt: skip


def test_request_follows_its_closed_incident() -> None:
    item = open311.request_dict(_view(_incident()), services=SERVICES, tz=TZ)
    assert list(item) == SPEC_REQUEST_FIELDS
    assert item["status"] == "closed" and item["status_notes"] == "Яму засыпали."
    assert (item["service_code"], item["service_name"]) == ("housing", SERVICES["housing"])
    assert item["agency_responsible"] == "Отдел ЖКХ"
    assert "МЦУ-2026-000007" in item["service_notice"]
    assert item["updated_datetime"] == "2026-11-20T15:00:00+10:00"  # closed_at, not updated_at
    assert item["expected_datetime"] == "2026-11-23T11:00:00+10:00"
    assert item["address"] == "Ленина 5, Амурзет" and (item["lat"], item["long"]) == (47.7, 131.1)


@pytest.mark.parametrize(
    "status", ["new", "assigned", "in_progress", "answered", "paused", "reopened"]
)
def test_open_incident_statuses_are_open(status: str) -> None:
    inc = _incident(status=status, lat=48.0, lon=132.0, latest_answer=None)
    item = open311.request_dict(_view(inc), services=SERVICES, tz=TZ)
    assert item["status"] == "open" and item["updated_datetime"] == "2026-11-20T16:00:00+10:00"
    assert (item["lat"], item["long"]) == (48.0, 132.0)


@pytest.mark.parametrize("status", ["resolved", "rejected", "closed"])
def test_finished_incident_statuses_are_closed(status: str) -> None:
    item = open311.request_dict(_view(_incident(status=status)), services=SERVICES, tz=TZ)
    assert item["status"] == "closed"


def test_request_window_rules() -> None:
    assert open311.request_window(start=None, end=None, now=NOW) == (NOW - timedelta(days=90), NOW)
    start = "2026-01-01T00:00:00Z"
    since, until = open311.request_window(start=start, end=None, now=NOW)
    assert until - since == timedelta(days=90) and since == datetime(2026, 1, 1, tzinfo=UTC)
    since, until = open311.request_window(start=None, end=start, now=NOW)
    assert until == datetime(2026, 1, 1, tzinfo=UTC) and until - since == timedelta(days=90)
    for start_, end_, needle in [
        ("2026-01-01T00:00:00Z", "2026-04-02T00:00:00Z", "90"),
        ("2026-02-01T00:00:00Z", "2026-01-01T00:00:00Z", "раньше"),
        ("2026-01-01T00:00:00", None, "часовым поясом"),
        ("вчера", None, "ISO 8601"),
    ]:
        with pytest.raises(Open311Error, match=needle) as caught:
            open311.request_window(start=start_, end=end_, now=NOW)
        assert caught.value.status == 400


def test_list_arguments() -> None:
    assert open311.parse_ids("1, 2,3") == (1, 2, 3)
    assert open311.parse_statuses("open,closed") == ("closed", "open")
    assert open311.parse_codes("roads,,housing") == ("roads", "housing")
    for bad in ("1,a", "", "１"):
        with pytest.raises(Open311Error):
            open311.parse_ids(bad)
    with pytest.raises(Open311Error):
        open311.parse_statuses("pending")


def test_xml_follows_the_spec_examples() -> None:
    body = to_xml(
        "service_requests",
        [{"service_request_id": "1", "service_notice": "ok", "account_id": None}],
    )
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<service_requests><request>')
    root = ET.fromstring(body)
    assert [child.tag for child in root[0]] == [
        "service_request_id",
        "service_notice",
        "account_id",
    ]
    assert root[0].find("account_id") is not None and root[0].findtext("account_id") == ""
    definition = ET.fromstring(to_xml("service_definition", open311.service_definition("roads")))
    attributes = definition.find("attributes")
    assert definition.findtext("service_code") == "roads"
    assert attributes is not None and len(attributes) == 0
    services = ET.fromstring(to_xml("services", open311.service_list([("roads", "Дороги")])))
    assert services[0].tag == "service" and services[0].findtext("metadata") == "false"
    errors = ET.fromstring(to_xml("errors", [{"code": 404, "description": "нет"}]))
    assert (errors[0].tag, errors[0].findtext("code"), errors[0].findtext("description")) == (
        "error",
        "404",
        "нет",
    )


def test_citizen_text_cannot_become_markup() -> None:
    data = [{"description": XSS + "\x01\x0b"}]
    xml_body = to_xml("service_requests", data)
    assert b"<script>" not in xml_body and b"&lt;script&gt;" in xml_body
    assert ET.fromstring(xml_body)[0].findtext("description") == XSS  # control chars dropped
    json_body = to_json(data)
    assert b"<" not in json_body and b">" not in json_body and b"&" not in json_body
    assert json.loads(json_body) == data
    assert render("json", "x", data)[1] == "application/json; charset=utf-8"
    assert render("xml", "x", data)[1] == "text/xml; charset=utf-8"
