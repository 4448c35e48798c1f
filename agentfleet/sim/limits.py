"""Rate limits in the simulator, enforced and reported the way Anthropic does.

Token buckets per dimension (requests, input tokens, output tokens), refilled
continuously at the per-minute limit. Output is reserved at `max_tokens` when a
request arrives and the unused part returned when it is answered, as the API
estimates OTPM. A request that does not fit gets a 429 with `retry-after` (whole
seconds until it would fit) and the `anthropic-ratelimit-*` headers; every
answer carries those headers too (limit, remaining, reset as RFC 3339 UTC).

`burst_s` is the bucket size in seconds of the rate. The API's buckets hold a
minute's worth but it may enforce over shorter intervals; benchmarks use a few
seconds, so a run of a few minutes is limited by the rate, not by the burst.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_FAMILY = {"requests": "requests", "input": "input-tokens", "output": "output-tokens"}


@dataclass(frozen=True)
class SimLimits:
    """Rate limits the simulator enforces like the API's, per minute; None leaves one unlimited."""

    requests_per_minute: int | None = None
    input_tokens_per_minute: int | None = None
    output_tokens_per_minute: int | None = None
    burst_s: float = 60.0

    def __post_init__(self) -> None:
        for name in ("requests_per_minute", "input_tokens_per_minute", "output_tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        if self.burst_s <= 0:
            raise ValueError(f"burst_s must be positive, got {self.burst_s}")

    @property
    def any(self) -> bool:
        """Whether any limit is set at all."""
        return any(
            (self.requests_per_minute, self.input_tokens_per_minute, self.output_tokens_per_minute)
        )


class _Bucket:
    def __init__(self, per_minute: int, burst_s: float, now: float) -> None:
        self.limit = per_minute
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self.level = self.capacity
        self.at = now

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + self.rate * max(0.0, now - self.at))
        self.at = max(self.at, now)

    def wait_for(self, amount: float) -> float:
        need = min(amount, self.capacity)
        return 0.0 if self.level >= need else (need - self.level) / self.rate

    def reset_in(self) -> float:
        return (self.capacity - self.level) / self.rate


class RateLimiter:
    """Thread-safe: the simulator's handler threads share one limiter."""

    def __init__(self, limits: SimLimits) -> None:
        self.limits = limits
        now = time.monotonic()
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        for dim, per_minute in (
            ("requests", limits.requests_per_minute),
            ("input", limits.input_tokens_per_minute),
            ("output", limits.output_tokens_per_minute),
        ):
            if per_minute:
                self._buckets[dim] = _Bucket(per_minute, limits.burst_s, now)
        self.admitted: list[float] = []  # wall-clock times of admitted requests
        self.refused = 0
        self.refused_by: dict[str, int] = {}  # the dimension that was short

    def admit(self, input_tokens: int, max_tokens: int) -> tuple[bool, dict[str, str]]:
        """Take the request's share, or refuse it; the headers to send either way."""
        amounts = {"requests": 1, "input": input_tokens, "output": max_tokens}
        with self._lock:
            now = time.monotonic()
            for b in self._buckets.values():
                b.refill(now)
            waits = [b.wait_for(amounts[d]) for d, b in self._buckets.items()]
            wait = max(waits, default=0.0)
            if wait > 0:
                self.refused += 1
                short = max(zip(waits, self._buckets, strict=True))[1]
                self.refused_by[short] = self.refused_by.get(short, 0) + 1
                headers = self._headers()
                headers["retry-after"] = str(max(1, math.ceil(wait)))
                return False, headers
            for dim, b in self._buckets.items():
                b.level -= amounts[dim]
            self.admitted.append(time.time())
            return True, self._headers()

    def settle(self, max_tokens: int, output_tokens: int) -> dict[str, str]:
        """Return the unused output reservation; the headers for the answer."""
        with self._lock:
            b = self._buckets.get("output")
            if b is not None:
                b.refill(time.monotonic())
                b.level = min(b.capacity, b.level + max(0, max_tokens - output_tokens))
            return self._headers()

    def _headers(self) -> dict[str, str]:
        now = datetime.now(UTC)
        out: dict[str, str] = {}

        def put(family: str, limit: int, remaining: float, reset_in: float) -> None:
            reset = (now + timedelta(seconds=max(0.0, reset_in))).replace(microsecond=0)
            out[f"anthropic-ratelimit-{family}-limit"] = str(limit)
            out[f"anthropic-ratelimit-{family}-remaining"] = str(max(0, math.floor(remaining)))
            out[f"anthropic-ratelimit-{family}-reset"] = reset.isoformat().replace("+00:00", "Z")

        for dim, b in self._buckets.items():
            put(_FAMILY[dim], b.limit, b.level, b.reset_in())
        tokens = [self._buckets[d] for d in ("input", "output") if d in self._buckets]
        if tokens:
            # The combined family: the most restrictive of input and output.
            tightest = min(tokens, key=lambda b: b.level)
            put("tokens", tightest.limit, tightest.level, max(b.reset_in() for b in tokens))
        return out

    def reset(self) -> None:
        """Fills every bucket and clears the counts, so a test starts with the full allowance."""
        with self._lock:
            now = time.monotonic()
            for b in self._buckets.values():
                b.level, b.at = b.capacity, now
            self.admitted = []
            self.refused = 0
            self.refused_by = {}
