"""Public pages: report a problem (with a photo) → tracking page → answer → verdict."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import func, select

from core.models import Message, Source
from incidents import service
from tests.integration.web.conftest import Web

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _token(web: Web) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', web.client.get("/report").text)
    assert found
    return found.group(1)


def _report(web: Web, text: str, files: dict[str, object] | None = None) -> str:
    form = {
        "csrf": _token(web),
        "text": text,
        "place": "Амурзет, ул. Ленина, 5",
        "contact": "a@b.ru",
    }
    response = web.client.post("/report", data=form, files=files, follow_redirects=False)
    assert response.status_code == 303, response.text[:400]
    location = str(response.headers["location"])
    assert location.endswith("?new=1")
    return location.split("?")[0].rsplit("/", 1)[1]


def test_report_and_track_round_trip(web: Web) -> None:
    number = _report(web, "Не горит фонарь у дома 5", files={"photo": ("f.png", PNG, "image/png")})
    world = web.world
    msg = world.session.scalar(select(Message).where(Message.external_id == number))
    assert msg is not None and msg.contact == "a@b.ru" and msg.place_text
    source = world.session.get(Source, msg.source_id)
    assert source is not None and (source.name, source.kind) == ("web-form", "portal")
    (photo,) = msg.attachments
    assert (world.tmp / photo).read_bytes() == PNG
    waiting = web.client.get(f"/track/{number}?new=1").text
    assert number in waiting and "ожидает разбора" in waiting and "Спасибо" in waiting

    incident = world.incidents["housing"]
    msg.incident_id = incident.id
    answer = service.add_answer(
        world.session,
        incident=incident,
        author=world.users["exec_gkh"],
        kind="final",
        text="Фонарь заменён бригадой МУП «Свет» 21.11.2026.",
        now=datetime.now(UTC),
        calendar=world.calendar,
    )
    answer.published_at = datetime.now(UTC)
    world.session.commit()
    page = web.client.get(f"/track/{number}").text
    assert incident.number in page and "Дан ответ" in page and "Фонарь заменён" in page
    assert "a@b.ru" not in page and "Не горит фонарь" not in page and "Житель" not in page

    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token
    voted = web.client.post(
        f"/track/{number}/feedback",
        data={"csrf": token.group(1), "verdict": "yes"},
        follow_redirects=False,
    )
    assert voted.status_code == 303
    assert web.fresh("housing").status == "resolved"
    again = web.client.post(
        f"/track/{number}/feedback", data={"csrf": token.group(1), "verdict": "no"}
    )
    assert again.status_code == 409 and web.fresh("housing").status == "resolved"


def test_only_images_up_to_5_mb_are_accepted(web: Web) -> None:
    form = {"csrf": _token(web), "text": "Свалка мусора за магазином"}
    script = {"photo": ("x.png", b"<script>alert(1)</script>", "image/png")}
    refused = web.client.post("/report", data=form, files=script)
    assert refused.status_code == 400 and "только изображение" in refused.text
    big = {"photo": ("big.jpg", b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024), "image/jpeg")}
    too_big = web.client.post("/report", data=form, files=big)
    assert too_big.status_code in (400, 413)
    assert web.world.session.scalar(select(func.count(Message.id))) == 4
    assert not (web.world.tmp / "uploads").exists() or not any(
        (web.world.tmp / "uploads").iterdir()
    )


def test_too_short_text_is_refused_with_the_form_kept(web: Web) -> None:
    response = web.client.post(
        "/report", data={"csrf": _token(web), "text": "яма", "place": "у школы"}
    )
    assert response.status_code == 400 and "у школы" in response.text


def test_unknown_or_malformed_numbers_are_404(web: Web) -> None:
    assert web.client.get("/track/" + "0" * 32).status_code == 404
    assert web.client.get("/track/../../etc/passwd").status_code == 404
    assert web.client.get("/track/МЦУ-2026-000001").status_code == 404
    lookup = web.client.get("/track", params={"number": "abc"})
    assert lookup.status_code == 200 and "Номер не найден" in lookup.text


def test_reports_are_rate_limited_per_address(web: Web) -> None:
    for i in range(5):
        _report(web, f"Сообщение номер {i} о проблеме")
    form = {"csrf": _token(web), "text": "Шестое сообщение подряд"}
    assert web.client.post("/report", data=form).status_code == 429
