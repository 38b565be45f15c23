"""The incident card: timeline, clocks, history, answers with the «отписка» check, statuses."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.models import Answer
from tests.integration.web.conftest import Web

FORMAL = "Ваше обращение принято к сведению и будет рассмотрено в установленном порядке."
GOOD = "Бригада МУП «Водоканал» устранит прорыв до 25.11.2026, ответственный — мастер Петров И. И."


def _answers(web: Web) -> list[Answer]:
    web.world.session.expire_all()
    return list(web.world.session.scalars(select(Answer).order_by(Answer.id)))


def test_card_shows_timeline_place_clocks_and_history(web: Web) -> None:
    web.login("operator")
    housing = web.world.incidents["housing"]
    page = web.client.get(f"/incidents/{housing.id}").text
    assert housing.number in page
    assert 'title="ВКонтакте">ВК</span>' in page and "vk-test" in page
    assert "Амурзет" in page
    assert "Первичный ответ" in page and "раб. времени" in page
    assert "Инцидент создан" in page and "Назначен исполнитель" in page
    assert "Отдел жилищно-коммунального хозяйства" in page


def test_status_buttons_offer_only_legal_transitions(web: Web) -> None:
    web.login("operator")
    housing = web.world.incidents["housing"]  # assigned
    page = web.client.get(f"/incidents/{housing.id}").text
    offered = set(re.findall(r'name="to_status" value="([a-z_]+)"', page))
    assert offered == {"in_progress", "paused", "rejected"}
    illegal = web.post(f"/incidents/{housing.id}/status", {"to_status": "closed"})
    assert illegal.status_code == 303 and "%D0%9E%D1%88" in illegal.headers["location"]
    assert web.fresh("housing").status == "assigned"
    web.post(f"/incidents/{housing.id}/status", {"to_status": "in_progress"})
    assert web.fresh("housing").status == "in_progress"


def test_rejection_needs_a_reason_and_the_competent_body(web: Web) -> None:
    web.login("operator")
    housing = web.world.incidents["housing"]
    web.post(f"/incidents/{housing.id}/status", {"to_status": "rejected", "reason": "Не наше"})
    assert web.fresh("housing").status == "assigned"
    body = {"to_status": "rejected", "reason": "Сети ресурсоснабжающей организации"}
    web.post(f"/incidents/{housing.id}/status", body | {"competent_body": "АО «ДГК»"})
    assert web.fresh("housing").status == "rejected"


def test_formal_answer_is_flagged_before_publishing_and_needs_confirmation(web: Web) -> None:
    web.login("exec_gkh")
    housing = web.world.incidents["housing"]
    check = web.client.post(
        f"/incidents/{housing.id}/answers/check",
        data={"text": FORMAL},
        headers={"X-CSRF-Token": web.token},
    ).json()
    assert check["flagged"] and any("срок" in r for r in check["reasons"])
    first = web.post(f"/incidents/{housing.id}/answers", {"kind": "final", "text": FORMAL})
    assert first.status_code == 200
    assert "Похоже на отписку" in first.text and 'name="confirmed" value="1"' in first.text
    assert _answers(web) == []
    confirmed = web.post(
        f"/incidents/{housing.id}/answers", {"kind": "final", "text": FORMAL, "confirmed": "1"}
    )
    assert confirmed.status_code == 303
    (answer,) = _answers(web)
    assert answer.formal_reply and answer.published_at is not None
    assert web.fresh("housing").status == "answered"
    assert "похоже на отписку" in web.client.get(f"/incidents/{housing.id}").text


def test_a_concrete_answer_is_published_at_once(web: Web) -> None:
    web.login("exec_gkh")
    housing = web.world.incidents["housing"]
    check = web.client.post(
        f"/incidents/{housing.id}/answers/check",
        data={"text": GOOD},
        headers={"X-CSRF-Token": web.token},
    ).json()
    assert check == {"flagged": False, "reasons": []}
    response = web.post(f"/incidents/{housing.id}/answers", {"kind": "interim", "text": GOOD})
    assert response.status_code == 303
    (answer,) = _answers(web)
    assert (answer.kind, answer.formal_reply) == ("interim", False)


def test_empty_answer_is_refused_with_the_form_kept(web: Web) -> None:
    web.login("exec_gkh")
    housing = web.world.incidents["housing"]
    response = web.post(f"/incidents/{housing.id}/answers", {"kind": "final", "text": "  "})
    assert response.status_code == 400 and "Текст ответа пуст" in response.text
    assert _answers(web) == []


def test_sector_head_answers_and_resolves_own_incident(web: Web) -> None:
    web.login("roads_head")
    roads = web.world.incidents["roads"]
    text = "Яма будет засыпана щебнем подрядчиком ООО «Дорстрой» до 27.11.2026."
    web.post(f"/incidents/{roads.id}/answers", {"kind": "final", "text": text})
    assert web.fresh("roads").status == "answered"
    page = web.client.get(f"/incidents/{roads.id}").text
    assert 'value="resolved"' in page
    web.post(f"/incidents/{roads.id}/status", {"to_status": "resolved"})
    assert web.fresh("roads").status == "resolved"


def test_operator_records_the_citizens_verdict(web: Web) -> None:
    web.login("exec_gkh")
    housing = web.world.incidents["housing"]
    web.post(f"/incidents/{housing.id}/answers", {"kind": "final", "text": GOOD})
    web.login("operator")
    web.post(f"/incidents/{housing.id}/feedback", {"verdict": "no", "comment": "Всё ещё течёт"})
    assert web.fresh("housing").status == "reopened"
    page = web.client.get(f"/incidents/{housing.id}").text
    assert "Не решено" in page and "Всё ещё течёт" in page


def test_unknown_incident_is_404(web: Web) -> None:
    web.login("operator")
    assert web.client.get("/incidents/999999").status_code == 404
