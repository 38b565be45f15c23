"""Open311 GeoReport v2 over HTTP, checked field by field against the spec's examples."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from collectors.apikeys import create_key
from collectors.repository import ensure_source
from collectors.repository_portal import revoke_api_keys
from config.settings import Settings
from core.models import Answer, Block, Department, Incident, Message, Source
from web.api import api_router

SECRET = "test-secret"
NOW = datetime.now(UTC)
XSS = '<script>alert("x")</script>&'
BASE = "/open311/v2"
# The spec's field lists, in the order of its examples.
SERVICE_FIELDS = [
    "service_code", "service_name", "description", "metadata", "type", "keywords", "group",
]  # fmt: skip
REQUEST_FIELDS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat", "long",
    "media_url",
]  # fmt: skip
POST_FIELDS = ["service_request_id", "service_notice", "account_id"]


def _app(session: Session) -> FastAPI:
    app = FastAPI()
    app.state.settings = Settings(secret_key=SECRET, timezone="Asia/Vladivostok")
    app.state.engine = session.get_bind()
    app.include_router(api_router)
    return app


def _key(session: Session, *, name: str, kind: str) -> str:
    source = ensure_source(session, name=name, kind=kind)
    key = create_key(session, source=source, pepper=SECRET, now=NOW).key
    session.commit()
    return key


@pytest.fixture
def client(seeded_session: Session) -> TestClient:
    return TestClient(_app(seeded_session))


@pytest.fixture
def key(seeded_session: Session) -> str:
    return _key(seeded_session, name="open311-app", kind="open311")


def _submit(client: TestClient, key: str, fmt: str = "json", **fields: str) -> Response:
    form = {"api_key": key, "service_code": "roads", "lat": "47.71", "long": "131.09",
            "description": "Яма у школы"} | fields  # fmt: skip
    return client.post(f"{BASE}/requests.{fmt}", data=form)


def _new_id(client: TestClient, key: str, **fields: str) -> str:
    response = _submit(client, key, **fields)
    assert response.status_code == 200, response.text
    return str(response.json()[0]["service_request_id"])


def _errors(response: Response, status: int) -> list[dict[str, Any]]:
    assert response.status_code == status, response.text
    body: list[dict[str, Any]] = response.json()
    assert body and all(list(e) == ["code", "description"] for e in body)
    return body


def _xml(response: Response) -> ET.Element:
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)


def test_service_list_field_by_field(client: TestClient, seeded_session: Session) -> None:
    seeded_session.get_one(Block, "other").active = False
    seeded_session.commit()
    services = client.get(f"{BASE}/services.json").json()
    active = seeded_session.scalars(select(Block.code).where(Block.active.is_(True))).all()
    assert sorted(s["service_code"] for s in services) == sorted(active)
    assert "other" not in {s["service_code"] for s in services}
    assert all(list(s) == SERVICE_FIELDS for s in services)
    roads = next(s for s in services if s["service_code"] == "roads")
    assert roads["service_name"] == "Дорожная деятельность"
    assert (roads["metadata"], roads["type"]) == (False, "realtime")
    root = _xml(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services" and {c.tag for c in root} == {"service"}
    assert [c.tag for c in root[0]] == SERVICE_FIELDS and root[0].findtext("metadata") == "false"


def test_service_definition_and_unknown_codes(client: TestClient) -> None:
    assert client.get(f"{BASE}/services/roads.json").json() == {
        "service_code": "roads",
        "attributes": [],
    }
    root = _xml(client.get(f"{BASE}/services/roads.xml"))
    assert root.tag == "service_definition" and [c.tag for c in root] == [
        "service_code",
        "attributes",
    ]
    [error] = _errors(client.get(f"{BASE}/services/parking.json"), 404)
    assert error["code"] == 404 and "parking" in error["description"]
    xml_error = client.get(f"{BASE}/services/parking.xml")
    assert xml_error.status_code == 404
    root = _xml(xml_error)
    assert root.tag == "errors" and [c.tag for c in root[0]] == ["code", "description"]
    unknown_format = client.get(f"{BASE}/services.yaml")
    assert unknown_format.status_code == 404 and _xml(unknown_format).tag == "errors"


def test_post_request_stores_an_open311_message(
    client: TestClient, key: str, seeded_session: Session
) -> None:
    response = _submit(
        client, key, email="ivan@example.ru", first_name="Иван", last_name="Петров",
        address_string="Амурзет, ул. Ленина 5", media_url="https://img.example/1.jpg",
        **{"attribute[DEPTH]": "30"},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    [item] = response.json()
    assert list(item) == POST_FIELDS and item["account_id"] is None
    message = seeded_session.get_one(Message, int(item["service_request_id"]))
    source = seeded_session.get_one(Source, message.source_id)
    assert (source.name, source.kind, message.status) == ("open311-app", "open311", "new")
    assert message.external_id.startswith("roads:") and len(message.external_id) == 6 + 32
    assert (message.text, message.lat, message.lon) == ("Яма у школы", 47.71, 131.09)
    assert message.contact == "ivan@example.ru" and message.author_name == "Иван Петров"
    assert message.author_id and "ivan" not in message.author_id
    assert message.attachments == ["https://img.example/1.jpg"]
    root = _xml(_submit(client, key, fmt="xml"))
    assert root.tag == "service_requests" and [c.tag for c in root[0]] == POST_FIELDS


def test_post_needs_an_open311_key(client: TestClient, key: str, seeded_session: Session) -> None:
    portal_key = _key(seeded_session, name="site", kind="portal")
    for bad in ("", "nonsense", portal_key):
        [error] = _errors(_submit(client, bad), 403)
        assert error["code"] == 403 and "api_key" in error["description"]
    revoke_api_keys(seeded_session, prefix=key.split("_")[1], now=NOW)
    seeded_session.commit()
    _errors(_submit(client, key), 403)
    root = _xml(_submit(client, "nonsense", fmt="xml"))
    assert root.tag == "errors" and root[0].findtext("code") == "403"
    assert seeded_session.scalars(select(Message)).all() == []


def test_post_validation_errors(client: TestClient, key: str) -> None:
    assert _errors(_submit(client, key, service_code="parking"), 404)[0]["code"] == 404
    _errors(_submit(client, key, service_code=""), 400)
    _errors(_submit(client, key, lat="", long=""), 400)
    _errors(_submit(client, key, description="я" * 4001), 400)
    assert _submit(client, key, description="я" * 4000).status_code == 200
    assert len(_errors(_submit(client, key, lat="95", email="x"), 400)) == 2
    [huge] = _errors(_submit(client, key, description="я" * 40_000), 400)
    assert huge["code"] == 413 and "4000" in huge["description"]


def test_request_answers_before_the_incident_exists(client: TestClient, key: str) -> None:
    request_id = _new_id(
        client, key, address_string="ул. Ленина 5", media_url="https://i.example/1"
    )
    [item] = client.get(f"{BASE}/requests/{request_id}.json").json()
    assert list(item) == REQUEST_FIELDS
    assert item["service_request_id"] == request_id and item["status"] == "open"
    assert (item["status_notes"], item["agency_responsible"], item["expected_datetime"]) == (
        None,
    ) * 3
    assert (item["service_code"], item["service_name"]) == ("roads", "Дорожная деятельность")
    assert item["address"] == "ул. Ленина 5" and item["media_url"] == "https://i.example/1"
    assert (item["lat"], item["long"], item["address_id"], item["zipcode"]) == (
        47.71,
        131.09,
        None,
        None,
    )
    requested = datetime.fromisoformat(item["requested_datetime"])
    assert item["requested_datetime"].endswith("+10:00") and abs(requested - NOW) < timedelta(
        hours=1
    )
    root = _xml(client.get(f"{BASE}/requests/{request_id}.xml"))
    assert [c.tag for c in root[0]] == REQUEST_FIELDS and root[0].findtext("status") == "open"
    for missing in ("999999", "abc", "1e3"):
        _errors(client.get(f"{BASE}/requests/{missing}.json"), 404)


def _link_incident(session: Session, message_id: int, *, status: str) -> Incident:
    department = session.scalars(select(Department).where(Department.code == "gkh")).one()
    incident = Incident(
        number="МЦУ-2026-000042", block_code="housing", title="Яма", status=status,
        sla_policy="portal", received_at=NOW, due_at=NOW + timedelta(days=3),
        department_id=department.id, settlement="Амурзет", street="ул. Ленина", house="5",
        closed_at=NOW + timedelta(hours=2) if status == "closed" else None,
    )  # fmt: skip
    session.add(incident)
    session.flush()
    session.add_all([
        Answer(incident_id=incident.id, kind="interim", text="Принято в работу",
               published_at=NOW + timedelta(minutes=10)),
        Answer(incident_id=incident.id, kind="final", text="Яму засыпали",
               published_at=NOW + timedelta(hours=1)),
        Answer(incident_id=incident.id, kind="final", text="Черновик", published_at=None),
    ])  # fmt: skip
    session.get_one(Message, message_id).incident_id = incident.id
    session.commit()
    return incident


def test_request_follows_its_incident(
    client: TestClient, key: str, seeded_session: Session
) -> None:
    request_id = _new_id(client, key)
    _link_incident(seeded_session, int(request_id), status="closed")
    [item] = client.get(f"{BASE}/requests/{request_id}.json").json()
    assert list(item) == REQUEST_FIELDS
    assert (item["status"], item["status_notes"]) == ("closed", "Яму засыпали")
    assert (item["service_code"], item["service_name"]) == (
        "housing",
        "Жилищно-коммунальное хозяйство",
    )
    assert item["agency_responsible"] == "Отдел жилищно-коммунального хозяйства"
    assert "МЦУ-2026-000042" in item["service_notice"]
    assert item["address"] == "ул. Ленина 5, Амурзет"
    expected = datetime.fromisoformat(item["expected_datetime"])
    assert abs(expected - (NOW + timedelta(days=3))) < timedelta(seconds=1)
    assert item["expected_datetime"].endswith("+10:00")
    updated = datetime.fromisoformat(item["updated_datetime"])
    assert abs(updated - (NOW + timedelta(hours=2))) < timedelta(seconds=1)  # the closing time


def _ids(response: Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {item["service_request_id"] for item in response.json()}


def test_request_list_filters(client: TestClient, key: str, seeded_session: Session) -> None:
    pending, closed, old = (_new_id(client, key) for _ in range(3))
    _link_incident(seeded_session, int(closed), status="closed")
    seeded_session.get_one(Message, int(old)).received_at = NOW - timedelta(days=100)
    portal = ensure_source(seeded_session, name="site", kind="portal")
    private = Message(source_id=portal.id, external_id="p1", text="личное", created_at=NOW)
    seeded_session.add(private)
    seeded_session.commit()
    url = f"{BASE}/requests.json"
    assert _ids(client.get(url)) == {pending, closed}
    assert _ids(client.get(url, params={"status": "open"})) == {pending}
    assert _ids(client.get(url, params={"status": "closed"})) == {closed}
    assert _ids(client.get(url, params={"status": "open,closed"})) == {pending, closed}
    assert _ids(client.get(url, params={"service_code": "housing"})) == {closed}
    assert _ids(client.get(url, params={"service_code": "roads,energy"})) == {pending}
    both = {"service_request_id": f"{old},{pending},{private.id}", "status": "closed"}
    assert _ids(client.get(url, params=both)) == {old, pending}  # ids override other filters
    window = {
        "start_date": (NOW - timedelta(days=120)).isoformat(),
        "end_date": (NOW - timedelta(days=50)).isoformat(),
    }
    assert _ids(client.get(url, params=window)) == {old}
    _errors(client.get(f"{BASE}/requests/{private.id}.json"), 404)
    too_long = {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-04-02T00:00:00Z"}
    assert "90" in _errors(client.get(url, params=too_long), 400)[0]["description"]
    _errors(client.get(url, params={"start_date": "2026-01-01T00:00:00"}), 400)
    _errors(client.get(url, params={"status": "pending"}), 400)
    root = _xml(client.get(f"{BASE}/requests.xml"))
    assert (
        root.tag == "service_requests" and {c.tag for c in root} == {"request"} and len(root) == 2
    )


def test_citizen_html_is_escaped_in_both_formats(client: TestClient, key: str) -> None:
    request_id = _new_id(client, key, description=XSS, address_string=XSS)
    response = client.get(f"{BASE}/requests/{request_id}.json")
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert b"<script>" not in response.content and b"\\u003cscript\\u003e" in response.content
    assert json.loads(response.content)[0]["description"] == XSS
    xml_response = client.get(f"{BASE}/requests/{request_id}.xml")
    assert b"<script>" not in xml_response.content and b"&lt;script&gt;" in xml_response.content
    assert _xml(xml_response)[0].findtext("address") == XSS


def test_tokens_resolve_to_request_ids(
    client: TestClient, key: str, seeded_session: Session
) -> None:
    request_id = _new_id(client, key)
    token = seeded_session.get_one(Message, int(request_id)).external_id.split(":")[1]
    assert client.get(f"{BASE}/tokens/{token}.json").json() == [
        {"service_request_id": request_id, "token": token}
    ]
    root = _xml(client.get(f"{BASE}/tokens/{token}.xml"))
    assert [c.tag for c in root[0]] == ["service_request_id", "token"]
    for unknown in ("0" * 32, "not-a-token", "%25"):
        _errors(client.get(f"{BASE}/tokens/{unknown}.json"), 404)


def test_discovery_points_at_v2(client: TestClient) -> None:
    body = client.get("/open311/discovery.json").json()
    [endpoint] = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"].endswith("/open311/v2") and "text/xml" in endpoint["formats"]
    root = _xml(client.get("/open311/discovery.xml"))
    assert root.tag == "discovery" and root.find("endpoints/endpoint/formats/format") is not None
