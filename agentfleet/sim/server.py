"""The simulator's HTTP face: Anthropic's endpoints, fault injection, admin.

Standard library only, so the simulator starts anywhere the package imports.
The `x-api-key` header is never read: a real key sent here by mistake cannot
end up in a log line, a stats payload or an error message.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from agentfleet.sim import brain
from agentfleet.sim.cache import PromptCache
from agentfleet.sim.faults import Fault, Faults
from agentfleet.sim.habits import HABITS, HabitKnobs
from agentfleet.sim.limits import RateLimiter, SimLimits
from agentfleet.sim.protocol import JSON, ApiError, input_tokens, role_of

SIMULATOR = "agentfleet-sim"
MAX_BODY = 32 * 1024 * 1024
MESSAGES = "/v1/messages"
COUNT_TOKENS = "/v1/messages/count_tokens"
_REASONS = {529: "Overloaded"}
_FAULT_MESSAGES = {
    401: "invalid x-api-key (simulated authentication failure)",
    429: "rate limit exceeded (simulated)",
    500: "internal server error (simulated)",
    529: "Overloaded (simulated)",
}


def _fault_error(fault: Fault, faults: Faults) -> ApiError:
    assert fault.status is not None
    headers: dict[str, str] = {}
    retry = faults.retry_after_for(fault)
    if retry is not None:
        # "%g" keeps "2" for whole seconds and "1.5" for fractions.
        headers["retry-after"] = f"{retry:g}"
    message = _FAULT_MESSAGES.get(fault.status, f"simulated HTTP {fault.status}")
    return ApiError(fault.status, f"{SIMULATOR}: {message}", headers=headers)


class Simulator:
    """An Anthropic-compatible HTTP server with scripted answers. Not Claude."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency_ms: float = 0,
        fault_rates: dict[int, float] | None = None,
        retry_after_s: float = 1.0,
        seed: int = 0,
        habit_rate: float = 0.0,
        habits: list[str] | tuple[str, ...] | None = None,
        log: Callable[[str], None] | None = None,
        cache_min_tokens: int | None = None,
        rate_limits: SimLimits | None = None,
    ) -> None:
        self._host = host
        self._requested_port = port
        self.latency_ms = float(latency_ms)
        self.faults = Faults(fault_rates, retry_after_s, seed)
        # For soak runs: that share of agent and planner conversations shows
        # one of `habits` (default all), picked by a hash of the seed and the
        # conversation, so a rerun with the same seed misbehaves identically.
        self.habit_knobs = HabitKnobs(
            rate=float(habit_rate), pool=tuple(habits) if habits else HABITS, seed=seed
        )
        self._log = log
        # cache_control honoured as the API does (agentfleet/sim/cache.py); None:
        # each model's documented minimum cacheable prefix.
        self.prompt_cache = PromptCache(min_tokens=cache_min_tokens)
        # Off unless asked for: Anthropic-style limits with 429s and headers.
        self.limiter = RateLimiter(rate_limits) if rate_limits and rate_limits.any else None
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._stats = self._empty_stats()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---

    def start(self) -> Simulator:
        if self._httpd is not None:
            return self
        self._httpd = _Server((self._host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{SIMULATOR}:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is not None:
            return int(self._httpd.server_address[1])
        if self._requested_port:
            return self._requested_port
        raise RuntimeError("the simulator has no port until start() binds one")

    @property
    def url(self) -> str:
        # A wildcard bind is reachable on loopback; "0.0.0.0" is not a client address.
        host = "127.0.0.1" if self._host in ("", "0.0.0.0") else self._host
        return f"http://{host}:{self.port}"

    # --- control ---

    def enqueue_faults(self, faults: list[dict[str, Any]]) -> int:
        """Queue faults for the next /v1/messages requests; returns the queue length."""
        return self.faults.enqueue(faults)

    def stats(self) -> JSON:
        with self._lock:
            s = self._stats
            return {
                "requests": s["requests"],
                "by_path": dict(s["by_path"]),
                "by_role": dict(s["by_role"]),
                "by_status": dict(s["by_status"]),
                "faults_injected": s["faults_injected"],
                "faults_queued": self.faults.queued(),
                "input_tokens": s["input_tokens"],
                "output_tokens": s["output_tokens"],
                "cache_creation_input_tokens": s["cache_creation_input_tokens"],
                "cache_read_input_tokens": s["cache_read_input_tokens"],
                "habits": dict(s["habits"]),
                "stop_reasons": dict(s["stop_reasons"]),
            }

    def reset(self) -> None:
        self.faults.reset()
        self.prompt_cache.reset()
        if self.limiter is not None:
            self.limiter.reset()
        with self._lock:
            self._stats = self._empty_stats()

    # --- used by the handler ---

    @staticmethod
    def _empty_stats() -> dict[str, Any]:
        return {
            "requests": 0,
            "by_path": Counter(),
            "by_role": Counter(),
            "by_status": Counter(),
            "faults_injected": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "habits": Counter(),
            "stop_reasons": Counter(),
        }

    def _request_id(self, raw: bytes) -> str:
        # Deterministic for a given request sequence, yet unique per request.
        with self._lock:
            n = next(self._seq)
        return "req_sim_" + hashlib.sha256(b"%d:" % n + raw).hexdigest()[:24]

    def _record(
        self,
        path: str,
        status: str,
        role: str | None,
        fault: bool,
        usage: JSON | None,
        answer: JSON | None = None,
        habits: frozenset[str] = frozenset(),
    ) -> None:
        with self._lock:
            s = self._stats
            s["habits"].update(habits)
            if answer is not None:
                s["stop_reasons"][str(answer.get("stop_reason"))] += 1
            s["requests"] += 1
            s["by_path"][path] += 1
            s["by_status"][status] += 1
            if role is not None:
                s["by_role"][role] += 1
            if fault:
                s["faults_injected"] += 1
            if usage:
                s["input_tokens"] += int(usage.get("input_tokens", 0))
                s["output_tokens"] += int(usage.get("output_tokens", 0))
                for key in ("cache_creation_input_tokens", "cache_read_input_tokens"):
                    s[key] += int(usage.get(key, 0))

    def _cached_usage(self, body: JSON, usage: JSON) -> JSON:
        """The response's usage once the prompt cache has served what it holds:
        `input_tokens` then counts only what was neither read nor written."""
        total = int(usage["input_tokens"])
        use = self.prompt_cache.apply(body, total)
        return {
            **usage,
            "input_tokens": total - use.read - use.creation,
            "cache_creation_input_tokens": use.creation,
            "cache_read_input_tokens": use.read,
        }

    def _say(self, line: str) -> None:
        if self._log is not None:
            self._log(line)


def _max_tokens(body: Any) -> int:
    value = body.get("max_tokens") if isinstance(body, dict) else None
    return value if isinstance(value, int) and value > 0 else 0


def _input_tokens(body: Any) -> int:
    # The brain validates the body later; a malformed one is charged nothing here.
    return input_tokens(body) if isinstance(body, dict) else 0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Fleets open many connections at once; the default backlog of 5 refuses some.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
        self.sim = sim
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        # Without this, pooled keep-alive connections would still be answered
        # after stop(), and a test of "the API is down" would pass by accident.
        with self._conns_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer is routine (timeouts, stop()).
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = SIMULATOR
    sys_version = ""
    # Idle keep-alive connections are dropped, so they cannot pin threads forever.
    timeout = 120.0

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _dispatch logs one richer line per request instead

    def log_message(self, format: str, *args: Any) -> None:
        # Only protocol errors reach here, and they quote the request line, never headers.
        self.server.sim._say(format % args)

    def _dispatch(self, method: str) -> None:
        started = time.monotonic()
        sim = self.server.sim
        path = urlsplit(self.path).path.rstrip("/") or "/"
        try:
            raw = self._read_body()
        except ApiError as err:
            # The unread body would be parsed as the next request: close instead.
            self.close_connection = True
            request_id = sim._request_id(b"")
            self._send(err.status, err.body(request_id), request_id)
            return
        request_id = sim._request_id(raw)
        if path == "/" or path.startswith("/_sim"):
            self._admin(method, path, raw, request_id)
            return
        role: str | None = None
        fault: Fault | None = None
        usage: JSON | None = None
        answer: JSON | None = None
        habits: frozenset[str] = frozenset()
        headers: dict[str, str] = {}
        try:
            body = self._json(raw)
            if (method, path) == ("POST", MESSAGES):
                role = role_of(body)
                fault = sim.faults.next()
                max_tokens = _max_tokens(body)
                if sim.limiter is not None and (fault is None or not fault.is_error):
                    admitted, headers = sim.limiter.admit(_input_tokens(body), max_tokens)
                    if not admitted:
                        raise ApiError(
                            429,
                            f"{SIMULATOR}: rate limit exceeded (simulated limits)",
                            headers=headers,
                        )
                self._delay(sim.latency_ms + (fault.latency_ms if fault else 0.0))
                if fault is not None and fault.disconnect:
                    self.close_connection = True
                    sim._record(path, "disconnect", role, True, None)
                    sim._say(f"{method} {path} -> disconnect role={role}")
                    return
                if fault is not None and fault.status is not None:
                    raise _fault_error(fault, sim.faults)
                answer, habits = brain.answer(body, sim.habit_knobs)
                answer["usage"] = sim._cached_usage(body, answer["usage"])
                status, payload, usage = 200, answer, answer["usage"]
                if sim.limiter is not None:
                    used = int(usage.get("output_tokens", 0))
                    headers = sim.limiter.settle(max_tokens, used)
            elif (method, path) == ("POST", COUNT_TOKENS):
                status, payload = 200, brain.count_tokens(body)
            else:
                raise ApiError(404, f"Not Found: {method} {path}")
        except ApiError as err:
            status, payload, headers = err.status, err.body(request_id), err.headers
        injected = fault is not None and fault.is_error
        sim._record(path, str(status), role, injected, usage, answer, habits)
        self._send(status, payload, request_id, headers)
        ms = (time.monotonic() - started) * 1000
        sim._say(f"{method} {path} -> {status} role={role or '-'} {ms:.0f}ms")

    def _admin(self, method: str, path: str, raw: bytes, request_id: str) -> None:
        sim = self.server.sim
        try:
            if method == "GET" and path in ("/", "/_sim/health"):
                payload: Any = {"ok": True, "simulator": SIMULATOR, "note": "this is not Claude"}
            elif method == "GET" and path == "/_sim/stats":
                payload = sim.stats()
            elif method == "POST" and path == "/_sim/reset":
                sim.reset()
                payload = {"ok": True}
            elif method == "POST" and path == "/_sim/faults":
                body = self._json(raw)
                try:
                    queued = sim.enqueue_faults(body if isinstance(body, list) else [body])
                except ValueError as e:
                    raise ApiError(400, f"faults: {e}") from None
                payload = {"queued": queued}
            else:
                raise ApiError(404, f"Not Found: {method} {path}")
            self._send(200, payload, request_id)
        except ApiError as err:
            self._send(err.status, err.body(request_id), request_id, err.headers)

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            raise ApiError(400, "content-length must be an integer") from None
        if length > MAX_BODY:
            raise ApiError(413, f"request body exceeds {MAX_BODY} bytes")
        return self.rfile.read(length) if length > 0 else b""

    @staticmethod
    def _json(raw: bytes) -> Any:
        try:
            return json.loads(raw or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ApiError(400, f"request body is not valid JSON: {e}") from None

    @staticmethod
    def _delay(ms: float) -> None:
        if ms > 0:
            time.sleep(ms / 1000)

    def _send(
        self, status: int, payload: Any, request_id: str, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status, _REASONS.get(status))
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-simulator", SIMULATOR)
        self.send_header("request-id", request_id)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
