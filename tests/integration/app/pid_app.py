"""A tiny app for the worker tests: GET /pid answers with the serving process's id."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def _pid(_: Request) -> PlainTextResponse:
    return PlainTextResponse(str(os.getpid()))


def app_factory() -> Starlette:
    """Built in each worker process, as `app.server.web_app` is."""
    return Starlette(routes=[Route("/pid", _pid)])
