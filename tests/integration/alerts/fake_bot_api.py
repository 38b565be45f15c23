"""A fake Telegram Bot API server on 127.0.0.1 speaking the real wire format.

aiogram reaches it through `TelegramAPIServer.from_base(api.base_url)`: POST
/bot{token}/{method} with form fields (JSON-encoded objects), answered with
`{"ok": true, "result": ...}` or `{"ok": false, "error_code": ..., "description": ...}`.
Uploads (sendDocument) come as multipart: a field `document=attach://KEY` and a file part
named KEY; the call records the file as `{"filename": ..., "data": bytes}` under `document`.
The server runs its own event loop in a thread, so sync tests (and the CLI) can use it while
each test drives aiogram with `asyncio.run`. Errors are scripted per method with `fail_next`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

TOKEN = "123456789:TEST-alerts-token_abcdefghijklmnop"
BOT_USER = {"id": 123456789, "is_bot": True, "first_name": "МЦУ", "username": "mcu_test_bot"}


def too_many(retry_after: int) -> tuple[int, dict[str, Any]]:
    """A 429 flood-control answer."""
    return 429, {
        "ok": False,
        "error_code": 429,
        "description": f"Too Many Requests: retry after {retry_after}",
        "parameters": {"retry_after": retry_after},
    }


BLOCKED = (
    403,
    {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
)
SERVER_ERROR = (500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})


@dataclass(frozen=True)
class Call:
    """One request the server received; `stamp` is the test's clock at that moment."""

    method: str
    params: dict[str, Any]
    stamp: float | None


def _decode(value: str) -> Any:
    if value[:1] in "{[":
        return json.loads(value)
    if value.lstrip("-").isdigit():
        return int(value)
    return value


def _params(form: Any) -> dict[str, Any]:
    """Form fields decoded; attach://KEY references replaced by the uploaded file."""
    files = {
        k: {"filename": v.filename, "data": v.file.read()}
        for k, v in form.items()
        if isinstance(v, web.FileField)
    }
    params: dict[str, Any] = {}
    for key, value in form.items():
        if isinstance(value, web.FileField):
            continue
        text = str(value)
        ref = text.removeprefix("attach://")
        params[key] = files[ref] if text.startswith("attach://") and ref in files else _decode(text)
    return params


class FakeBotApi:
    """Start with `with FakeBotApi() as api:`; inspect `api.calls` / `api.sent()`."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self.stamp: Callable[[], float] | None = None
        self._script: dict[str, deque[tuple[int, dict[str, Any]]]] = {}
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._ready = threading.Event()
        self.port = 0

    @property
    def base_url(self) -> str:
        """What to give TelegramAPIServer.from_base / MCU_TELEGRAM_API_BASE."""
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, method: str, reply: tuple[int, dict[str, Any]], times: int = 1) -> None:
        """Answer the next `times` calls of `method` with this error."""
        self._script.setdefault(method, deque()).extend([reply] * times)

    def sent(self) -> list[Call]:
        """sendMessage calls the server accepted (scripted failures excluded)."""
        return [c for c in self.calls if c.method == "sendMessage" and "failed" not in c.params]

    def documents(self) -> list[Call]:
        """sendDocument calls the server accepted."""
        return [c for c in self.calls if c.method == "sendDocument" and "failed" not in c.params]

    def of(self, method: str) -> list[Call]:
        """Every call of `method`."""
        return [c for c in self.calls if c.method == method]

    async def _handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        if token != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        params = _params(await request.post())
        stamp = self.stamp() if self.stamp else None
        scripted = self._script.get(method)
        if scripted:
            status, body = scripted.popleft()
            self.calls.append(Call(method, params | {"failed": status}, stamp))
            return web.json_response(body, status=status)
        self.calls.append(Call(method, params, stamp))
        result = self._result(method, params)
        if result is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        return web.json_response({"ok": True, "result": result})

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "sendMessage":
            return {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": params["chat_id"], "type": "private"},
                "text": params.get("text", ""),
            }
        if method == "sendDocument":
            upload = params.get("document") or {}
            return {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": params["chat_id"], "type": "private"},
                "caption": params.get("caption", ""),
                "document": {
                    "file_id": f"file-{len(self.calls)}",
                    "file_unique_id": f"u{len(self.calls)}",
                    "file_name": upload.get("filename"),
                    "file_size": len(upload.get("data") or b""),
                },
            }
        if method == "getMe":
            return BOT_USER
        if method == "getUpdates":
            updates, self.updates = self.updates, []
            return updates
        if method in ("answerCallbackQuery", "editMessageReplyMarkup", "deleteWebhook"):
            return True
        return None

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = runner.addresses[0][1]
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())
        self._loop.close()

    def start(self) -> FakeBotApi:
        """Serve in a background thread until `stop()`."""
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake Bot API did not start")
        return self

    def stop(self) -> None:
        """Stop serving and close the loop."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
