"""What a request writes is committed before its answer leaves the server.

A browser follows the redirect after a POST at once: had the commit waited until the answer
was sent (FastAPI's default for dependencies with yield), that GET could read the database
before it and miss the citizen's own message (seen as a 404 on /track in the e2e test).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from core.models import Message
from tests.integration.web.conftest import Web


def test_the_message_of_a_report_is_committed_when_the_redirect_is_sent(web: Web) -> None:
    engine = web.world.session.get_bind()
    app = web.client.app
    stored_at_answer: list[int] = []

    def stored() -> int:
        with engine.connect() as other:  # another connection: it sees committed rows only
            return int(other.scalar(select(func.count()).select_from(Message)) or 0)

    async def probing(scope: Any, receive: Any, send: Any) -> None:
        async def answer(message: Any) -> None:
            if message["type"] == "http.response.start" and scope.get("method") == "POST":
                stored_at_answer.append(stored())
            await send(message)

        await app(scope, receive, answer)

    client = TestClient(probing)  # the fixture's client ran the app's start-up already
    before = stored()
    form = client.get("/report").text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token
    response = client.post(
        "/report",
        data={"csrf": token.group(1), "text": "Во дворе не горит фонарь третий день"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text[:300]
    assert stored_at_answer == [before + 1]
