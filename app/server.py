"""The HTTP server under the web application: uvicorn with one or several worker processes.

Several workers need an import string and a factory (each process builds its own app and
engine), and uvicorn then binds the listening socket itself with protocol 0, so asyncio's
selector loop leaves Nagle's algorithm on and a response body waits ~40 ms for the client's
delayed ACK (uvicorn#3149). The protocols below switch TCP_NODELAY on for every connection,
whatever loop and socket uvicorn ends up with.

On Linux the workers do not share one listening socket: each has its own on the same port
(SO_REUSEPORT), so the kernel, not the race of waking workers, spreads the connections.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import signal
import socket
import sys
import time
from collections.abc import Sequence
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


# In a worker of `ReusePortWorkers`: every worker's count of open connections (shared
# memory, each slot written only by its own worker's event loop) and this worker's slot.
_balance: tuple[Any, int] | None = None


def over_share(counts: Sequence[int], me: int) -> bool:
    """Whether worker `me` holds more connections than its share (the total ÷ workers,
    rounded up): the kernel's hash gives e.g. 18 and 32 of 50, and the 32 wait twice as
    long as the 18 (each worker answers as many requests per second)."""
    return counts[me] > -(-sum(counts) // len(counts))


class HeadWithBody:
    """The transport as a response cycle sees it: the status line and headers wait for the
    first chunk of the body and go out with it in one write.

    uvicorn writes the head and the body apart; with TCP_NODELAY each write is a send(),
    a packet and a wake-up of the client, twice per answer. Anything else the cycle does
    with the transport (close it, ask whether it is closing) sends a waiting head first,
    and so does the end of the response (`flush`, for answers without a body write)."""

    __slots__ = ("_cycle", "_head", "_sent", "_transport")

    def __init__(self, transport: Any, cycle: Any) -> None:
        self._transport, self._cycle = transport, cycle
        self._head: bytes | None = None
        self._sent = False  # the head has gone out: later writes pass straight on

    def write(self, data: bytes) -> None:
        """Keep the head of the response; send it with the next write."""
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.write(head + data)
        elif not self._sent and self._cycle.response_started:
            self._head, self._sent = bytes(data), True
        else:  # before the response (100 Continue) or after its head
            self._transport.write(data)

    def flush(self) -> None:
        """Send a head still waiting."""
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.write(head)

    def close(self) -> None:
        """Send what waits, then close (the transport sends its buffer before closing)."""
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        self.flush()
        return getattr(self._transport, name)


class NoDelayHttpProtocol(_Base):
    """The fastest available HTTP/1.1 protocol of uvicorn, with TCP_NODELAY; in a worker
    holding more keep-alive connections than its share, the next answer on one of them
    says «Connection: close», so its client connects anew and the kernel hashes it again
    (to the other worker, half the time), until the workers hold about as many."""

    _counted = False

    def connection_made(self, transport: Any) -> None:
        _no_delay(transport)
        super().connection_made(transport)
        if _balance is not None:
            counts, me = _balance
            counts[me] += 1
            self._counted = True

    def connection_lost(self, exc: Exception | None) -> None:
        self._uncount()
        super().connection_lost(exc)

    def _uncount(self) -> None:
        if self._counted and _balance is not None:
            counts, me = _balance
            counts[me] -= 1
            self._counted = False

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = getattr(self, "cycle", None)  # the request's cycle (httptools protocol)
        if cycle is not None and hasattr(cycle, "on_response"):
            joined = HeadWithBody(cycle.transport, cycle)
            cycle.transport = joined
            done = cycle.on_response

            def on_response() -> None:
                joined.flush()  # before the connection moves on to the next request
                done()

            cycle.on_response = on_response
        if self._counted and _balance is not None and cycle is not None:
            counts, me = _balance
            if over_share(counts[:], me):
                cycle.keep_alive = False  # uvicorn answers «connection: close» and closes
                self._uncount()  # one connection less from now: the next is not shed too


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
    options: dict[str, Any] = {
        "factory": factory,
        "http": NoDelayHttpProtocol,
        "host": host,
        "port": port,
        "log_level": "warning",
        "timeout_keep_alive": 60,
    }
    if isinstance(target, str) and workers > 1 and port and reuse_port_available():
        ReusePortWorkers(uvicorn.Config(target, workers=workers, **options)).run()
        return
    uvicorn.run(target, workers=workers if isinstance(target, str) else None, **options)


def reuse_port_available() -> bool:
    """Whether the kernel balances connections over sockets sharing a port (Linux ≥ 3.9)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def reuse_port_socket(host: str, port: int, backlog: int) -> socket.socket:
    """A listening socket of one worker; the kernel spreads new connections over them all."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


class _Worker(uvicorn.Server):
    """uvicorn's server that tells the supervisor once it has started."""

    def __init__(self, config: uvicorn.Config, ready: Any) -> None:
        super().__init__(config)
        self._ready = ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._ready.set()


def _serve_worker(config: uvicorn.Config, ready: Any, counts: Any, slot: int) -> None:
    """One worker process: its own socket on the shared port, then uvicorn as usual."""
    global _balance
    _balance = (counts, slot)
    config.configure_logging()
    sock = reuse_port_socket(config.host, config.port, config.backlog)
    _Worker(config, ready).run(sockets=[sock])


class ReusePortWorkers:
    """Worker processes, each with its own SO_REUSEPORT socket, kept running.

    uvicorn's own supervisor shares one listening socket: every worker sleeps on it, the
    first to wake accepts everything pending, and one worker ends up with most keep-alive
    connections (bench/web.py, 50 clients: 10 against 40, so those 40 waited four times
    longer). With a socket per worker the kernel hashes each new connection to one of them,
    as nginx's `reuseport` does; a hash still gives 18 against 32 at times, so the workers
    share their counts of open connections and one above its share sheds connections
    (`NoDelayHttpProtocol`) until they hold about as many.

    As uvicorn's supervisor does: a port already served is refused at start (SO_REUSEPORT
    alone would let a second server share it silently); a worker that dies before its server
    has started is a start-up failure (a bad setting, no database) and stops the server with
    exit code 1 instead of restarting forever; a worker that dies later is started again;
    SIGINT or SIGTERM stops them all, killing what does not stop within `STOP_SECONDS`.
    """

    STOP_SECONDS = 30.0

    def __init__(self, config: uvicorn.Config) -> None:
        self.config = config
        self._context = multiprocessing.get_context("spawn")
        self._stop = False
        self._workers: list[tuple[Any, Any]] = []  # (process, its «started» event)
        # Open connections of each worker (see `over_share`).
        self._counts = self._context.Array("i", config.workers, lock=False)
        self._log = logging.getLogger("mcu.server")

    def _start(self, slot: int) -> tuple[Any, Any]:
        ready = self._context.Event()
        self._counts[slot] = 0  # a dead worker's connections died with it
        process = self._context.Process(
            target=_serve_worker, args=(self.config, ready, self._counts, slot)
        )
        process.start()
        return process, ready

    def _request_stop(self, *_: Any) -> None:
        self._stop = True

    def _refuse_a_served_port(self) -> None:
        """Exit if anything holds the port: a plain bind fails where a server listens."""
        family = socket.AF_INET6 if ":" in self.config.host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self.config.host, self.config.port))
            except OSError as exc:
                self._log.error("порт %s:%s занят: %s", self.config.host, self.config.port, exc)
                raise SystemExit(1) from exc

    def run(self) -> None:
        """Start the workers and watch them until a stop signal or a start-up failure."""
        self._refuse_a_served_port()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._request_stop)
        self._workers = [self._start(slot) for slot in range(self.config.workers)]
        failed = False
        while not self._stop:
            for i, (process, ready) in enumerate(self._workers):
                if process.is_alive() or self._stop:
                    continue
                if not ready.is_set():
                    self._log.error("worker %s failed to start (%s)", process.pid, process.exitcode)
                    self._stop = failed = True
                    break
                self._log.error("worker %s exited (%s), restarting", process.pid, process.exitcode)
                self._workers[i] = self._start(i)
            time.sleep(0.2)
        self._stop_all()
        if failed:
            raise SystemExit(1)

    def _stop_all(self) -> None:
        for process, _ in self._workers:
            process.terminate()
        deadline = time.monotonic() + self.STOP_SECONDS
        for process, _ in self._workers:
            process.join(timeout=max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                self._log.error("worker %s did not stop in time: killed", process.pid)
                process.kill()
                process.join()
