"""vk_api with VK's limits handled our way: base URL rewrite, capped retries, typed errors."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import requests
import vk_api
from jconfig import MemoryConfig
from vk_api.exceptions import ApiError, ApiHttpError, Captcha

from collectors.errors import (
    CollectorError,
    RateLimitedError,
    SourceAuthError,
    SourceInaccessibleError,
    TemporaryError,
)

API_VERSION = "5.199"
VK_METHOD_PREFIXES = ("https://api.vk.ru/method/", "https://api.vk.com/method/")
RETRY_DELAYS = (1.0, 2.0, 4.0)
# Error 6 survived every retry: rest a minute rather than hammer the API every pass.
RPS_PAUSE = timedelta(minutes=1)
QUOTA_PAUSES = {9: timedelta(hours=1), 14: timedelta(minutes=30), 29: timedelta(hours=6)}
AUTH_CODES = frozenset({5, 7, 27, 28})
INACCESSIBLE_CODES = frozenset({15, 18, 30})
RETRY_CODES = frozenset({1, 6, 10})

log = logging.getLogger("mcu.collectors.vk")
Sleep = Callable[[float], None]


def rewrite_url(url: str, api_base: str) -> str:
    """`https://api.vk.ru/method/NAME` (or api.vk.com) as `{api_base}/method/NAME`."""
    for prefix in VK_METHOD_PREFIXES:
        if url.startswith(prefix):
            return f"{api_base.rstrip('/')}/method/{url[len(prefix) :]}"
    return url


class VkSession(requests.Session):
    """A requests session that sends VK API calls to MCU_VK_API_BASE and never waits forever."""

    def __init__(self, *, api_base: str, timeout: float = 30.0) -> None:
        super().__init__()
        self.api_base = api_base
        self.timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        """Rewrite VK's fixed host and add a default timeout (vk_api sets none)."""
        target = rewrite_url(url.decode() if isinstance(url, bytes) else url, self.api_base)
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, target, *args, **kwargs)


class _VkApi(vk_api.VkApi):
    """vk_api without its own sleeping: VkClient throttles and retries with a cap."""

    RPS_DELAY = 0.0

    def too_many_rps_handler(self, error: ApiError) -> None:
        return None  # re-raised by vk_api; VkClient backs off a bounded number of times

    def http_handler(self, error: ApiHttpError) -> None:
        return None


class VkMethodError(CollectorError):
    """VK refused this call with an error code we do not expect (bad parameter, closed item)."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


class _Retry(Exception):
    """A failure worth another try; `final` is raised when the tries run out."""

    def __init__(self, final: CollectorError, *, refused: bool = False) -> None:
        super().__init__(str(final))
        self.final = final
        self.refused = refused  # VK refused before doing anything: safe to repeat a write


def api_error(code: int, message: str, *, method: str) -> CollectorError | _Retry:
    """VK error code → the collector error the runner understands (or a retry)."""
    text = f"VK {method}: ошибка {code}: {message}"
    if code in AUTH_CODES:
        return SourceAuthError(text)
    if code in INACCESSIBLE_CODES:
        return SourceInaccessibleError(text)
    if code in QUOTA_PAUSES:
        return RateLimitedError(text, retry_after=QUOTA_PAUSES[code])
    if code == 6:
        return _Retry(RateLimitedError(text, retry_after=RPS_PAUSE), refused=True)
    if code in RETRY_CODES:
        return _Retry(TemporaryError(text))
    return VkMethodError(text, code=code)


def _http_error(status: int, *, method: str) -> CollectorError | _Retry:
    text = f"VK {method}: HTTP {status}"
    if status >= 500 or status == 429:
        return _Retry(TemporaryError(text))
    return CollectorError(text)


class VkClient:
    """One token's API calls: own throttle, capped backoff, errors mapped for the runner."""

    def __init__(
        self,
        *,
        token: str,
        api_base: str,
        min_interval: float = 0.34,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        timeout: float = 30.0,
        sleep: Sleep = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = VkSession(api_base=api_base, timeout=timeout)
        self.api = _VkApi(
            token=token, api_version=API_VERSION, session=self.session, config=MemoryConfig
        )
        self.min_interval = min_interval
        self.retry_delays = tuple(retry_delays)
        self.sleep = sleep
        self.clock = clock
        self._last_call: float | None = None

    def close(self) -> None:
        """Release pooled connections."""
        self.session.close()

    def call(self, method: str, *, idempotent: bool = True, **params: Any) -> Any:
        """Call an API method; retry 6/5xx/timeouts with capped backoff, then raise."""
        values = {k: v for k, v in params.items() if v is not None}
        return self._with_retries(lambda: self._api_once(method, values, idempotent), method)

    def get_json(self, url: str, **params: Any) -> Any:
        """GET a non-API URL (the long-poll server) with the same retry rules."""
        return self._with_retries(lambda: self._get_once(url, params), "long poll")

    def _with_retries(self, attempt: Callable[[], Any], method: str) -> Any:
        for delay in (*self.retry_delays, None):
            try:
                return attempt()
            except _Retry as exc:
                if delay is None:
                    raise exc.final from None
                log.warning("%s: %s; retry in %.0f s", method, exc, delay)
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _throttle(self) -> None:
        now = self.clock()
        if self._last_call is not None and self.min_interval > 0:
            wait = self.min_interval - (now - self._last_call)
            if wait > 0:
                self.sleep(wait)
                now += wait
        self._last_call = now

    def _api_once(self, method: str, values: dict[str, Any], idempotent: bool) -> Any:
        self._throttle()
        try:
            return self.api.method(method, values)
        except Captcha as exc:
            raise api_error(14, "нужна капча", method=method) from exc
        except ApiError as exc:
            mapped = api_error(int(exc.code), str(exc.error.get("error_msg", "")), method=method)
        except ApiHttpError as exc:
            mapped = _http_error(exc.response.status_code, method=method)
        except (requests.RequestException, ValueError) as exc:
            mapped = _Retry(TemporaryError(f"VK {method}: {type(exc).__name__}"))
        # A write that may have reached VK is not repeated blindly: only error 6 (refused).
        if isinstance(mapped, _Retry) and not idempotent and not mapped.refused:
            raise mapped.final
        raise mapped

    def _get_once(self, url: str, params: dict[str, Any]) -> Any:
        self._throttle()
        try:
            response = self.session.get(url, params=params)
            if not response.ok:
                raise _http_error(response.status_code, method="long poll")
            return response.json()
        except (requests.RequestException, ValueError) as exc:
            raise _Retry(TemporaryError(f"VK long poll: {type(exc).__name__}")) from exc
