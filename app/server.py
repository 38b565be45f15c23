"""The HTTP server under the web application: uvicorn with one or several worker processes.

Several workers need an import string and a factory (each process builds its own app and
engine), and uvicorn then binds the listening socket itself with protocol 0, so asyncio's
selector loop leaves Nagle's algorithm on and a response body waits ~40 ms for the client's
delayed ACK (uvicorn#3149). The protocols below switch TCP_NODELAY on for every connection,
whatever loop and socket uvicorn ends up with.
"""

from __future__ import annotations

import gc
import socket
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

try:  # httptools parses requests in C; h11 is the pure-Python fallback.
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # pragma: no cover - httptools is a dependency, but optional in uvicorn
    _Base = H11Protocol  # type: ignore[misc,assignment]


def _no_delay(transport: Any) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayHttpProtocol(_Base):
    """The fastest available HTTP/1.1 protocol of uvicorn, with TCP_NODELAY."""

    def connection_made(self, transport: Any) -> None:
        _no_delay(transport)
        super().connection_made(transport)


def settle_heap() -> None:
    """Move everything built at start-up out of the collector's sight.

    A web process holds ~260,000 long-lived objects (FastAPI routes, pydantic schemas,
    SQLAlchemy mappers, templates); every full collection walked them all and stalled the
    requests in flight for 100–600 ms (bench/web.py p99). Frozen objects are never
    traversed again, so collections only look at what requests allocate.
    """
    gc.collect()
    gc.freeze()


def web_app() -> FastAPI:
    """The application factory of every worker process: settings from MCU_* variables."""
    from app.context import build_context
    from web.app import create_app

    ctx = build_context()
    app = create_app(ctx.settings, engine=ctx.engine)
    settle_heap()
    return app


def run_server(
    target: FastAPI | str, *, host: str, port: int, workers: int = 1, factory: bool = False
) -> None:
    """Serve `target` (an app, or an import string of a factory when workers > 1)."""
    if not isinstance(target, str):
        settle_heap()
    uvicorn.run(
        target,
        factory=factory,
        http=NoDelayHttpProtocol,
        workers=workers if isinstance(target, str) else None,
        host=host,
        port=port,
        log_level="warning",
        timeout_keep_alive=60,
    )
