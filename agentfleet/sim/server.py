"""The simulator's HTTP face: Anthropic's endpoints, fault injection, admin.

A Starlette app on the project's one HTTP stack (`agentfleet/httpserver.py`), so tests,
benches and `agentfleet demo` start it in-process and the real `anthropic` SDK reaches it
over HTTP. The `x-api-key` header is never read: a real key sent here by mistake cannot
end up in a log line, a stats payload or an error message.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from agentfleet.httpserver import HangUp, ServerOptions, ThreadedServer, read_body
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
_FAULT_MESSAGES = {
    401: "invalid x-api-key (simulated authentication failure)",
    429: "rate limit exceeded (simulated)",
    500: "internal server error (simulated)",
    529: "Overloaded (simulated)",
}
_TOKEN_KEYS = ("input_tokens", "output_tokens", "cache_creation_input_tokens")


def _fault_error(fault: Fault, faults: Faults) -> ApiError:
    assert fault.status is not None
    headers: dict[str, str] = {}
    retry = faults.retry_after_for(fault)
    if retry is not None:
        # "%g" keeps "2" for whole seconds and "1.5" for fractions.
        headers["retry-after"] = f"{retry:g}"
    message = _FAULT_MESSAGES.get(fault.status, f"simulated HTTP {fault.status}")
    return ApiError(fault.status, f"{SIMULATOR}: {message}", headers=headers)


@dataclass
class _Exchange:
    """What one API request came to: the stats and the log line are made from it."""

    method: str
    """The HTTP method."""
    path: str
    """The path, without a trailing slash: what `by_path` counts."""
    request_id: str = ""
    """The request-id header this exchange is answered with."""
    role: str | None = None
    """The part played (the system prompt's `ROLE:`), for Messages requests."""
    fault: Fault | None = None
    """The fault injected into this request, if any."""
    answer: JSON | None = None
    """The brain's answer, for the stop-reason counts."""
    habits: frozenset[str] = frozenset()
    """The bad habits the answer shows."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra response headers: retry-after and the rate-limit headers."""

    @property
    def usage(self) -> JSON | None:
        """The answer's usage after the prompt cache: what the token counters add up."""
        return None if self.answer is None else self.answer["usage"]

    @property
    def injected(self) -> bool:
        """Whether the answer is a fault the simulator made up, not the brain's."""
        return self.fault is not None and self.fault.is_error


class Simulator(ThreadedServer):
    """An Anthropic-compatible HTTP server with scripted answers. Not Claude.

    Args:
        host: Interface to bind; the URL says 127.0.0.1 for a wildcard bind.
        port: Port to bind; 0 picks a free one.
        latency_ms: Delay added to every /v1/messages answer.
        fault_rates: Share of /v1/messages requests answered with each HTTP status.
        retry_after_s: The `retry-after` sent with a random 429.
        seed: Seed of the random faults and habits, so a rerun misbehaves identically.
        habit_rate: Share of agent and planner conversations that show a bad habit.
        habits: The habits `habit_rate` picks from (default all).
        log: Called with one line per request; None logs nothing.
        cache_min_tokens: Shortest prefix the prompt cache stores (default: the model's).
        rate_limits: Anthropic-style limits with 429s and headers; None for none.
    """

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
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["GET", "POST"])])
        super().__init__(app, ServerOptions(host=host, port=port, name=SIMULATOR))

    # --- control ---

    def enqueue_faults(self, faults: list[dict[str, Any]]) -> int:
        """Queue faults for the next /v1/messages requests; returns the queue length."""
        return self.faults.enqueue(faults)

    def stats(self) -> JSON:
        """What was asked and answered since the start or the last reset, for tests and benches."""
        with self._lock:
            s = self._stats
            return {
                "requests": s["requests"],
                "by_path": dict(s["by_path"]),
                "by_role": dict(s["by_role"]),
                "by_status": dict(s["by_status"]),
                "faults_injected": s["faults_injected"],
                "faults_queued": self.faults.queued(),
                **{key: s[key] for key in (*_TOKEN_KEYS, "cache_read_input_tokens")},
                "habits": dict(s["habits"]),
                "stop_reasons": dict(s["stop_reasons"]),
            }

    def reset(self) -> None:
        """Forget queued faults, cached prompts, rate-limit buckets and stats: a fresh API."""
        self.faults.reset()
        self.prompt_cache.reset()
        if self.limiter is not None:
            self.limiter.reset()
        with self._lock:
            self._stats = self._empty_stats()

    # --- bookkeeping ---

    @staticmethod
    def _empty_stats() -> dict[str, Any]:
        return {
            "requests": 0,
            "by_path": Counter(),
            "by_role": Counter(),
            "by_status": Counter(),
            "faults_injected": 0,
            **dict.fromkeys((*_TOKEN_KEYS, "cache_read_input_tokens"), 0),
            "habits": Counter(),
            "stop_reasons": Counter(),
        }

    def _request_id(self, raw: bytes) -> str:
        # Deterministic for a given request sequence, yet unique per request.
        with self._lock:
            n = next(self._seq)
        return "req_sim_" + hashlib.sha256(b"%d:" % n + raw).hexdigest()[:24]

    def _record(self, ex: _Exchange, status: str) -> None:
        with self._lock:
            s = self._stats
            s["habits"].update(ex.habits)
            if ex.answer is not None:
                s["stop_reasons"][str(ex.answer.get("stop_reason"))] += 1
            s["requests"] += 1
            s["by_path"][ex.path] += 1
            s["by_status"][status] += 1
            if ex.role is not None:
                s["by_role"][ex.role] += 1
            if ex.injected:
                s["faults_injected"] += 1
            for key in (*_TOKEN_KEYS, "cache_read_input_tokens"):
                s[key] += int((ex.usage or {}).get(key, 0))

    def _cached_usage(self, body: JSON, usage: JSON) -> JSON:
        """The usage once the prompt cache has served what it holds.

        `input_tokens` then counts only what was neither read nor written.
        """
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

    # --- the HTTP app ---

    async def _handle(self, request: Request) -> Response:
        started = time.monotonic()
        method, path = request.method, request.url.path.rstrip("/") or "/"
        raw = await read_body(request, MAX_BODY)
        if raw is None:
            # The rest of the body would be read as the next request: close instead.
            err = ApiError(413, f"request body exceeds {MAX_BODY} bytes")
            request_id = self._request_id(b"")
            return _json(err.status, err.body(request_id), request_id, {"connection": "close"})
        request_id = self._request_id(raw)
        if path == "/" or path.startswith("/_sim"):
            return self._admin(method, path, raw, request_id)
        ex = _Exchange(method, path, request_id)
        try:
            status, payload = await self._api(ex, raw)
        except ApiError as err:
            status, payload, ex.headers = err.status, err.body(request_id), err.headers
        except _Disconnect:
            self._record(ex, "disconnect")
            self._say(f"{method} {path} -> disconnect role={ex.role}")
            return HangUp()
        self._record(ex, str(status))
        ms = (time.monotonic() - started) * 1000
        self._say(f"{method} {path} -> {status} role={ex.role or '-'} {ms:.0f}ms")
        return _json(status, payload, request_id, ex.headers)

    async def _api(self, ex: _Exchange, raw: bytes) -> tuple[int, JSON]:
        body = _parse(raw)
        if (ex.method, ex.path) == ("POST", MESSAGES):
            return 200, await self._messages(ex, body)
        if (ex.method, ex.path) == ("POST", COUNT_TOKENS):
            return 200, brain.count_tokens(body)
        raise ApiError(404, f"Not Found: {ex.method} {ex.path}")

    async def _messages(self, ex: _Exchange, body: Any) -> JSON:
        """Answer one Messages request: fault, rate limit and latency first, then the brain."""
        ex.role = role_of(body)
        ex.fault = fault = self.faults.next()
        max_tokens = _max_tokens(body)
        if self.limiter is not None and not ex.injected:
            admitted, ex.headers = self.limiter.admit(_input_tokens(body), max_tokens)
            if not admitted:
                message = f"{SIMULATOR}: rate limit exceeded (simulated limits)"
                raise ApiError(429, message, headers=ex.headers)
        delay_ms = self.latency_ms + (fault.latency_ms if fault else 0.0)
        if delay_ms > 0:
            await asyncio.sleep(delay_ms / 1000)
        if fault is not None and fault.disconnect:
            raise _Disconnect
        if fault is not None and fault.status is not None:
            raise _fault_error(fault, self.faults)
        answer, ex.habits = brain.answer(body, self.habit_knobs)
        # The API names every reply anew, a retry of the same request included; an id
        # drawn from the body alone would make a cut attempt and its retry one reply.
        answer["id"] = "msg_sim_" + ex.request_id.removeprefix("req_sim_")
        answer["usage"] = usage = self._cached_usage(body, answer["usage"])
        ex.answer = answer
        if self.limiter is not None:
            used = int(usage.get("output_tokens", 0))
            ex.headers = self.limiter.settle(max_tokens, used)
        return answer

    def _admin(self, method: str, path: str, raw: bytes, request_id: str) -> Response:
        try:
            if method == "GET" and path in ("/", "/_sim/health"):
                payload: Any = {"ok": True, "simulator": SIMULATOR, "note": "this is not Claude"}
            elif method == "GET" and path == "/_sim/stats":
                payload = self.stats()
            elif method == "POST" and path == "/_sim/reset":
                self.reset()
                payload = {"ok": True}
            elif method == "POST" and path == "/_sim/faults":
                payload = {"queued": self._enqueue_posted(_parse(raw))}
            else:
                raise ApiError(404, f"Not Found: {method} {path}")
        except ApiError as err:
            return _json(err.status, err.body(request_id), request_id, err.headers)
        return _json(200, payload, request_id)

    def _enqueue_posted(self, body: Any) -> int:
        try:
            return self.enqueue_faults(body if isinstance(body, list) else [body])
        except ValueError as e:
            raise ApiError(400, f"faults: {e}") from None


class _Disconnect(Exception):
    """A queued or random fault asked to drop the connection instead of answering."""


def _json(
    status: int, payload: Any, request_id: str, headers: dict[str, str] | None = None
) -> Response:
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    extra = {"x-simulator": SIMULATOR, "request-id": request_id, **(headers or {})}
    return Response(data, status, extra, media_type="application/json")


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ApiError(400, f"request body is not valid JSON: {e}") from None


def _max_tokens(body: Any) -> int:
    value = body.get("max_tokens") if isinstance(body, dict) else None
    return value if isinstance(value, int) and value > 0 else 0


def _input_tokens(body: Any) -> int:
    # The brain validates the body later; a malformed one is charged nothing here.
    return input_tokens(body) if isinstance(body, dict) else 0
