"""Raw Bot API updates for the citizen bot tests, and a fake server that remembers its replies."""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from typing import Any

NOW_TS = 1773108000  # 2026-03-10 02:00 UTC
_ids = itertools.count(1000)


def _load_fake() -> Any:
    # --import-mode=importlib puts no test folder on sys.path: load the alerts fake by its path.
    name = "fake_bot_api_for_collectors"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "alerts" / "fake_bot_api.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


fake = _load_fake()


class RecordingApi(fake.FakeBotApi):  # type: ignore[name-defined,misc]
    """The alerts fake Bot API, also keeping each sent message it answered with."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        result = super()._result(method, params)
        if method == "sendMessage":
            self.messages.append(result | {"reply_markup": params.get("reply_markup")})
        return result

    def texts(self, chat_id: int | None = None) -> list[str]:
        """Texts the bot sent (to one chat, if given)."""
        return [m["text"] for m in self.messages if chat_id in (None, m["chat"]["id"])]

    def last_id(self, containing: str) -> int:
        """message_id of the last sent message whose text contains `containing`."""
        found = [m for m in self.messages if containing in m["text"]]
        assert found, f"no sent message contains {containing!r}"
        return int(found[-1]["message_id"])

    def answers(self) -> list[dict[str, Any]]:
        """answerCallbackQuery parameters, in order."""
        return [c.params for c in self.of("answerCallbackQuery")]


def _private(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "type": "private", "first_name": "Иван"}


def _user(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": "Иван", "last_name": "Петров"}


def message(chat_id: int, **content: Any) -> dict[str, Any]:
    """A private message with the given content fields."""
    body = {
        "message_id": next(_ids),
        "date": NOW_TS,
        "chat": _private(chat_id),
        "from": _user(chat_id),
    }
    return {"update_id": next(_ids), "message": body | content}


def text(chat_id: int, value: str) -> dict[str, Any]:
    """A private text message (a command gets its bot_command entity)."""
    extra: dict[str, Any] = {"text": value}
    if value.startswith("/"):
        extra["entities"] = [{"type": "bot_command", "offset": 0, "length": len(value.split()[0])}]
    return message(chat_id, **extra)


def location(chat_id: int, lat: float, lon: float) -> dict[str, Any]:
    return message(chat_id, location={"latitude": lat, "longitude": lon})


def photo(chat_id: int, prefix: str = "ph") -> dict[str, Any]:
    """A photo in three sizes; the largest is `{prefix}-big`."""
    sizes = [
        {"file_id": f"{prefix}-small", "file_unique_id": "a", "width": 90, "height": 67},
        {"file_id": f"{prefix}-big", "file_unique_id": "c", "width": 1280, "height": 960},
        {"file_id": f"{prefix}-mid", "file_unique_id": "b", "width": 320, "height": 240},
    ]
    return message(chat_id, photo=sizes)


def sticker(chat_id: int) -> dict[str, Any]:
    body = {"file_id": "st", "file_unique_id": "st", "type": "regular", "width": 512}
    return message(chat_id, sticker=body | {"height": 512, "is_animated": False, "is_video": False})


def voice(chat_id: int) -> dict[str, Any]:
    return message(chat_id, voice={"file_id": "vo", "file_unique_id": "vo", "duration": 4})


def callback(chat_id: int, data: str, message_id: int) -> dict[str, Any]:
    """A button press on the bot's message `message_id` in a private chat."""
    return {
        "update_id": next(_ids),
        "callback_query": {
            "id": f"cb-{next(_ids)}",
            "from": _user(chat_id),
            "chat_instance": "ci",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": NOW_TS,
                "chat": _private(chat_id),
                "from": {"id": 123456789, "is_bot": True, "first_name": "МЦУ"},
                "text": "…",
            },
        },
    }


def group_message(chat: dict[str, Any], value: str, user_id: int = 77) -> dict[str, Any]:
    body = {"message_id": next(_ids), "date": NOW_TS, "chat": chat, "from": _user(user_id)}
    return {"update_id": next(_ids), "message": body | {"text": value}}


def channel_post(chat: dict[str, Any], value: str) -> dict[str, Any]:
    body = {"message_id": next(_ids), "date": NOW_TS, "chat": chat, "sender_chat": chat}
    return {"update_id": next(_ids), "channel_post": body | {"text": value}}
