"""The operators' triage: block correction with a TrainingExample, assign, merge, bulk, list."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from httpx import Response
from sqlalchemy import func, select

from core.models import Classification, Department, IncidentEvent, Message, TrainingExample
from incidents import service
from tests.integration.web.conftest import Web


def notice(response: Response) -> str:
    """The one-time notice a redirect carries."""
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return query.get("notice", [""])[0]


def _dept(web: Web, code: str) -> int:
    dept_id = web.world.session.scalar(select(Department.id).where(Department.code == code))
    assert dept_id is not None
    return int(dept_id)


def test_block_correction_stores_a_training_example_and_reroutes(web: Web) -> None:
    web.login("operator")
    queue = web.world.incidents["queue"]
    response = web.post(f"/triage/{queue.id}/block", {"block": "housing", "back": "/triage"})
    assert response.status_code == 303
    assert notice(response).endswith("исправлен и он переназначен")
    session = web.world.session
    example = session.scalars(select(TrainingExample)).one()
    assert example.block_code == "housing"
    assert example.text == "Протекает крыша многоквартирного дома"
    assert example.user_id == web.world.users["operator"].id
    fresh = web.fresh("queue")
    assert fresh.block_code == "housing" and not fresh.needs_review
    assert (fresh.status, fresh.department_id) == ("assigned", _dept(web, "gkh"))
    actions = set(session.scalars(select(IncidentEvent.action)))
    assert {"block_changed", "assigned"} <= actions
    corrected = session.scalars(
        select(Classification).where(Classification.corrected_by.is_not(None))
    ).one()
    assert corrected.block_code == "housing" and corrected.model_version == "operator"


def test_confirming_the_block_is_a_label_too_and_answers_a_fragment(web: Web) -> None:
    web.login("operator")
    queue = web.world.incidents["queue"]
    response = web.post(
        f"/triage/{queue.id}/block", {"block": "property"}, headers={"X-Partial": "1"}
    )
    assert response.status_code == 200
    assert f'id="qi-{queue.id}"' in response.text and "подтверждён" in response.text
    assert web.world.session.scalar(select(TrainingExample.block_code)) == "property"
    assert web.fresh("queue").block_code == "property"


def test_unknown_block_is_refused_without_changes(web: Web) -> None:
    web.login("operator")
    queue = web.world.incidents["queue"]
    response = web.post(f"/triage/{queue.id}/block", {"block": "nope"}, headers={"X-Partial": "1"})
    assert response.status_code == 404
    assert web.world.session.scalar(select(func.count(TrainingExample.id))) == 0


def test_assign_to_department_and_executor(web: Web) -> None:
    web.login("operator")
    queue = web.world.incidents["queue"]
    gkh, executor = _dept(web, "gkh"), web.world.users["exec_gkh"].id
    response = web.post(
        f"/triage/{queue.id}/assign", {"department_id": gkh, "executor_id": executor}
    )
    assert response.status_code == 303
    fresh = web.fresh("queue")
    assert (fresh.status, fresh.department_id, fresh.executor_id) == ("assigned", gkh, executor)


def test_assign_refuses_an_executor_of_another_department(web: Web) -> None:
    web.login("operator")
    queue = web.world.incidents["queue"]
    body = {"department_id": _dept(web, "gkh"), "executor_id": web.world.users["exec_roads"].id}
    response = web.post(f"/triage/{queue.id}/assign", body)
    assert notice(response).startswith("Ошибка: Исполнитель не работает")
    assert web.fresh("queue").status == "new"


def test_merge_into_another_incident_moves_the_messages(web: Web) -> None:
    web.login("operator")
    queue, housing = web.world.incidents["queue"], web.world.incidents["housing"]
    response = web.post(f"/triage/{queue.id}/merge", {"target": housing.number})
    assert response.status_code == 303
    assert web.fresh("queue").status == "closed"
    assert web.fresh("housing").message_count == 2
    card = web.client.get(f"/incidents/{housing.id}").text
    assert "Протекает крыша" in card and "Сообщения <small>(2)</small>" in card


def test_merge_with_unknown_number_changes_nothing(web: Web) -> None:
    web.login("operator")
    queue = web.world.incidents["queue"]
    response = web.post(f"/triage/{queue.id}/merge", {"target": "МЦУ-1999-000001"})
    assert response.status_code == 303
    assert web.fresh("queue").status == "new"


def test_bulk_close_as_noise_and_bulk_assign(web: Web) -> None:
    world = web.world
    world.add_incident("noise", text="Всем привет, хорошей недели!", block="property")
    service.add_answer(
        world.session,
        incident=world.incidents["housing"],
        author=None,
        kind="final",
        text="Прорыв устранён бригадой МУП «Водоканал» 20.11.2026",
        now=datetime.now(UTC),
        calendar=world.calendar,
    )
    world.session.commit()
    web.login("operator")
    ids = [web.world.incidents["noise"].id, web.world.incidents["housing"].id]
    response = web.post("/triage/bulk", {"ids": [str(i) for i in ids], "action": "noise"})
    assert "Выполнено: 1 из 2" in notice(response)
    assert web.fresh("noise").status == "closed"
    assert web.fresh("housing").status == "answered"  # answered: no longer closable as noise
    labels = set(web.world.session.scalars(select(TrainingExample.block_code)))
    assert labels == {"other"}
    roads = _dept(web, "roads_transport")
    body = {
        "ids": [str(web.world.incidents["queue"].id)],
        "action": "assign",
        "department_id": roads,
    }
    web.post("/triage/bulk", body)
    assert web.fresh("queue").department_id == roads


def test_queue_lists_new_incidents_with_filters_and_fragment(web: Web) -> None:
    web.login("operator")
    queue, housing = web.world.incidents["queue"], web.world.incidents["housing"]
    page = web.client.get("/triage").text
    assert queue.number in page and housing.number not in page
    assert "41" in page and "Жилищно-коммунальное хозяйство 39" in page  # confidence, top-3
    fragment = web.client.get("/triage/list", params={"status": "open"}).text
    assert "<html" not in fragment and housing.number in fragment
    only_roads = web.client.get("/triage", params={"status": "open", "block": "roads"}).text
    assert housing.number not in only_roads and web.world.incidents["roads"].number in only_roads
    by_kind = web.client.get("/triage", params={"status": "open", "kind": "pos"}).text
    assert "Очередь пуста" in by_kind


def test_split_a_message_into_a_new_incident(web: Web) -> None:
    web.login("operator")
    queue, housing = web.world.incidents["queue"], web.world.incidents["housing"]
    web.post(f"/triage/{queue.id}/merge", {"target": housing.number})
    card = web.client.get(f"/incidents/{housing.id}").text
    assert "выделить в новый инцидент" in card
    session = web.world.session

    moved = session.scalar(select(Message.id).where(Message.text.like("Протекает%")))
    response = web.post(f"/incidents/{housing.id}/split", {"message_id": moved})
    assert response.status_code == 303 and "/incidents/" in response.headers["location"]
    assert web.fresh("housing").message_count == 1


def _noise_message(web: Web, text: str) -> Message:
    session, world = web.world.session, web.world
    assert world.source is not None
    msg = Message(
        source_id=world.source.id,
        external_id=text[:20],
        text=text,
        created_at=datetime.now(UTC),
        received_at=datetime.now(UTC),
        status="classified",
    )
    session.add(msg)
    session.flush()
    session.add(
        Classification(
            message_id=msg.id, block_code="other", confidence=0.7, noise=True, model_version="t"
        )
    )
    session.commit()
    return msg


def test_noise_queue_confirms_noise_or_opens_an_incident(web: Web) -> None:
    rescued = _noise_message(web, "Во дворе на Садовой разлилась канализация, запах жуткий")
    noise = _noise_message(web, "Поздравляем всех с праздником!")
    web.login("operator")
    page = web.client.get("/triage/noise").text
    assert "разлилась канализация" in page and "Поздравляем" in page
    response = web.post(f"/triage/noise/{rescued.id}", {"block": "housing"})
    assert response.status_code == 303 and response.headers["location"].startswith("/incidents/")
    session = web.world.session
    session.expire_all()
    assert session.get(Message, rescued.id).incident_id is not None  # type: ignore[union-attr]
    web.post(f"/triage/noise/{noise.id}", {"block": "other"})
    rows = session.execute(select(TrainingExample.message_id, TrainingExample.block_code))
    labels = {message_id: block for message_id, block in rows}
    assert labels == {rescued.id: "housing", noise.id: "other"}
    assert "Отложенных сообщений нет" in web.client.get("/triage/noise").text
    assert web.post(f"/triage/noise/{noise.id}", {"block": "other"}).status_code == 404


def test_a_citizen_verdict_linked_to_the_incident_is_not_a_training_example(web: Web) -> None:
    """«Да, спасибо» to «Проблема решена?» says nothing about the block of the incident."""
    queue = web.world.incidents["queue"]
    session = web.world.session
    original = session.scalars(select(Message).where(Message.incident_id == queue.id)).one()
    now = datetime.now(UTC)
    session.add(
        Message(
            source_id=original.source_id,
            external_id="verdict-1",
            author_name=original.author_name,
            text="Да, спасибо",
            created_at=now,
            received_at=now,
            status="linked",
            incident_id=queue.id,
            extra={"feedback": {"verdict": "yes"}},
        )
    )
    session.commit()
    web.login("operator")
    response = web.post(f"/triage/{queue.id}/block", {"block": "housing", "back": "/triage"})
    assert response.status_code == 303
    texts = list(session.scalars(select(TrainingExample.text)))
    assert texts == [original.text]
