"""The one HTTP stack of agentfleet's own servers: Starlette apps served by uvicorn.

The simulator (`agentfleet/sim/server.py`) and the codec server
(`agentfleet/payloads/codec_server.py`) are both small JSON services that tests, benches
and `agentfleet demo` start in-process and that their commands run in the foreground.
`ThreadedServer` is what they share: the socket is bound at once (so a taken port fails
where the caller can say so, and `port=0` gets a free port before anyone asks for the URL),
and uvicorn serves it from its own event loop on a daemon thread, so a synchronous test
and an asyncio worker can both use it.

Starlette and uvicorn, not aiohttp: both already come with `mcp`, so this adds no package,
and installing aiohttp would make every `import anthropic` slower (the SDK imports it when
present).
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Self

import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

# Wildcard binds are reachable on loopback; "0.0.0.0" is not an address a client can use.
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


@dataclass(frozen=True, kw_only=True)
class ServerOptions:
    """How a `ThreadedServer` listens and keeps its connections."""

    host: str = "127.0.0.1"
    """Interface to bind: "0.0.0.0" or "" for every IPv4 interface, or an IPv6 literal."""
    port: int = 0
    """Port to bind; 0 picks a free one (tests and benches)."""
    name: str = "agentfleet-http"
    """Sent as the `server` header and used to name the serving thread."""
    keep_alive_s: int = 120
    """Idle keep-alive connections are closed after this, so they cannot pile up forever."""
    backlog: int = 128
    """Connections the kernel queues: fleets open many at once, and a short queue refuses some."""
    drain_s: int = 5
    """On `stop()`, how long answers still being computed may take before they are cancelled."""


class _Server(uvicorn.Server):
    """uvicorn's server, telling the starting thread when it accepts connections."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()


class ThreadedServer:
    """An ASGI app served by uvicorn on a background thread, from a socket bound up front."""

    def __init__(self, app: ASGIApp, options: ServerOptions) -> None:
        self.options = options
        self._config = uvicorn.Config(
            app,
            # Our apps log one line per request themselves, with what matters to them;
            # uvicorn's start and stop lines would only clutter the commands' output.
            access_log=False,
            log_config=None,
            log_level=logging.WARNING,
            lifespan="off",
            server_header=False,
            headers=[("server", options.name)],
            timeout_keep_alive=options.keep_alive_s,
            timeout_graceful_shutdown=options.drain_s,
            backlog=options.backlog,
        )
        self._socket: socket.socket | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port: the real one when `port=0` asked for any."""
        if self._socket is not None:
            return int(self._socket.getsockname()[1])
        if self.options.port:
            return self.options.port
        raise RuntimeError(f"{self.options.name} has no port until start() binds one")

    @property
    def url(self) -> str:
        """The base URL a client on this machine uses, even for a wildcard bind."""
        host = self.options.host
        host = "127.0.0.1" if host in _WILDCARDS else host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def bind(self) -> Self:
        """Listen now; OSError if the address is taken. Connections queue until `start()`."""
        if self._socket is None:
            self._socket = _listen(self.options.host, self.options.port, self.options.backlog)
        return self

    def start(self) -> Self:
        """Serve on a daemon thread; returns once uvicorn accepts connections."""
        if self._thread is not None:
            return self
        self.bind()
        assert self._socket is not None
        server = _Server(self._config)
        self._server = server
        self._thread = threading.Thread(
            target=server.run,
            kwargs={"sockets": [self._socket]},
            name=f"{self.options.name}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        if not server.ready.wait(timeout=10):
            raise RuntimeError(f"{self.options.name} did not start serving within 10 s")
        return self

    def stop(self) -> None:
        """Stop serving and close every connection, kept-alive ones too.

        A pooled keep-alive connection that was still answered after `stop()` would let a
        test of "the API is down" pass by accident.
        """
        server, thread, sock = self._server, self._thread, self._socket
        self._server = self._thread = self._socket = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(timeout=self.options.drain_s + 5)
        if sock is not None:
            sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    # IPv4 unless the host is an IPv6 literal: "localhost" must keep meaning 127.0.0.1,
    # whatever order the resolver lists its addresses in.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=backlog)


def serve_until_interrupted(stop: Callable[[], None]) -> None:
    """Block the calling thread until Ctrl-C or SIGTERM, then call `stop`.

    SIGTERM (`docker stop`, `kill`) shuts down as cleanly as Ctrl-C. Both get a handler of
    their own: a process started as a background job of a script inherits SIGINT ignored,
    and Python then never raises KeyboardInterrupt, so `kill -INT` would not stop it. Signal
    handlers can only be installed from the main thread; elsewhere only Ctrl-C's
    KeyboardInterrupt ends the wait.
    """
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    in_main = threading.current_thread() is threading.main_thread()
    stops = (signal.SIGTERM, signal.SIGINT)
    previous = {sig: signal.signal(sig, on_signal) for sig in stops} if in_main else {}
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        stop()


async def read_body(request: Request, limit: int) -> bytes | None:
    """The request body, or None once it passes `limit` bytes (declared or streamed)."""
    declared = request.headers.get("content-length")
    if declared is not None and int(declared) > limit:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


class _HungUp(Exception):
    """Raised by `HangUp`; uvicorn then closes the connection."""


class _QuietHangUps(logging.Filter):
    """Keeps uvicorn from logging a deliberate hang-up as a crash of the app."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Let through every record but the hang-up's."""
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, _HungUp)


logging.getLogger("uvicorn.error").addFilter(_QuietHangUps())


class HangUp(Response):
    """A response that drops the connection instead of answering (a simulated network fault).

    ASGI has no "close now" message. An app that fails after starting its response makes
    uvicorn close the connection, so the client reads a status line and then the end of
    the stream: a connection error, as when a real server dies mid-answer.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Start an answer, then fail, so that uvicorn closes the connection."""
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise _HungUp
