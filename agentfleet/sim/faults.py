"""Injected failures: a FIFO queue of scripted faults plus seeded random ones.

Scripted faults make a test exact ("the next call gets a 429"); random rates
make soak runs realistic while staying reproducible from the seed.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from agentfleet.sim.protocol import ERROR_TYPES

FAULT_STATUSES = frozenset(ERROR_TYPES)
_KEYS = {"status", "retry_after", "latency_ms", "disconnect"}


@dataclass(frozen=True)
class Fault:
    """One scripted failure of the simulated API.

    An error status, extra latency, or a connection closed without an answer.
    """

    status: int | None = None
    retry_after: float | None = None
    latency_ms: float = 0.0
    # Close the connection without answering: the client sees a network error.
    disconnect: bool = False

    @property
    def is_error(self) -> bool:
        """Whether the request fails, rather than only being slow."""
        return self.status is not None or self.disconnect


def _number(d: dict[str, Any], key: str) -> float | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"fault {key} must be a non-negative number, got {value!r}")
    return float(value)


def parse_fault(d: Any) -> Fault:
    """A fault from its JSON form (the `/_sim/faults` body).

    Unknown keys and statuses are refused.
    """
    if not isinstance(d, dict):
        raise ValueError(f"a fault must be a JSON object, got {d!r}")
    unknown = set(d) - _KEYS
    if unknown:
        raise ValueError(f"unknown fault keys {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    status = d.get("status")
    if status is not None and (isinstance(status, bool) or status not in FAULT_STATUSES):
        raise ValueError(f"fault status must be one of {sorted(FAULT_STATUSES)}, got {status!r}")
    fault = Fault(
        status=status,
        retry_after=_number(d, "retry_after"),
        latency_ms=_number(d, "latency_ms") or 0.0,
        disconnect=bool(d.get("disconnect", False)),
    )
    if fault == Fault():
        raise ValueError("a fault needs at least one of status, latency_ms, disconnect")
    return fault


def check_rates(rates: dict[int, float] | None) -> dict[int, float]:
    """Random fault rates by status, checked.

    Only known statuses, each rate in [0, 1], and the rates summing to at most 1.
    """
    out = {int(k): float(v) for k, v in (rates or {}).items()}
    for status, rate in out.items():
        if status not in FAULT_STATUSES:
            raise ValueError(f"fault rate for unsupported status {status}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate for {status} must be in [0, 1], got {rate}")
    if sum(out.values()) > 1.0 + 1e-9:
        raise ValueError("fault rates add up to more than 1")
    return out


class Faults:
    """The faults to inject into the simulated API.

    Scripted faults are served first, in order; then random ones at the given rates, seeded so a run
    repeats.
    """

    def __init__(self, rates: dict[int, float] | None, retry_after_s: float, seed: int) -> None:
        self._rates = check_rates(rates)
        self._retry_after_s = retry_after_s
        self._seed = seed
        self._lock = threading.Lock()
        self._queue: deque[Fault] = deque()
        self._rng = random.Random(seed)

    def enqueue(self, faults: list[Any]) -> int:
        """Queues scripted faults for the next requests, all or none; the queue length after."""
        parsed = [parse_fault(f) for f in faults]  # all or nothing
        with self._lock:
            self._queue.extend(parsed)
            return len(self._queue)

    def queued(self) -> int:
        """How many scripted faults are still waiting."""
        with self._lock:
            return len(self._queue)

    def reset(self) -> None:
        """Drops the queue and restarts the random sequence, so a test starts clean."""
        with self._lock:
            self._queue.clear()
            self._rng = random.Random(self._seed)

    def next(self) -> Fault | None:
        """The fault for the next /v1/messages request, if any."""
        with self._lock:
            if self._queue:
                return self._queue.popleft()
            if not self._rates:
                return None
            draw = self._rng.random()
        edge = 0.0
        for status in sorted(self._rates):
            edge += self._rates[status]
            if draw < edge:
                retry = self._retry_after_s if status == 429 else None
                return Fault(status=status, retry_after=retry)
        return None

    def retry_after_for(self, fault: Fault) -> float | None:
        """The `retry-after` seconds to send with a fault: its own, else the default for a 429."""
        if fault.retry_after is not None:
            return fault.retry_after
        return self._retry_after_s if fault.status == 429 else None
