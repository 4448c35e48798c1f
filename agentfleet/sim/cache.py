"""Prompt caching, as the Messages API does it, so cache accounting can be tested.

A request's prompt is read in the API's cache order: tools, then system, then
messages, one segment per tool and per content block. A `cache_control` on a
segment is a breakpoint: the prefix up to and including it may be cached. Like
the API:

* a prefix is read from the cache only if the very same prefix (same model,
  same content, cache_control markers aside) was written by an earlier request
  within the TTL (5 minutes, renewed by every read);
* hits are looked for at each breakpoint and at the block boundaries up to
  `LOOKBACK` segments before it, so one breakpoint moving forward each turn
  still finds the prefix the previous turn wrote;
* prefixes below the model's minimum cacheable length are not cached at all;
* `cache_read_input_tokens` is the longest prefix found, `cache_creation_input_tokens`
  what the last cacheable breakpoint adds beyond it, and `input_tokens` only the
  remainder after the last breakpoint.

The one piece of state in the simulator besides its counters; it lives with
the server (`Simulator.prompt_cache`), never in the pure `brain`.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentfleet.delegation.catalog import CACHE_MIN_TOKENS
from agentfleet.sim.protocol import JSON, blocks, canonical, strip_cache_control

TTL_S = 300.0
LOOKBACK = 20
MAX_BREAKPOINTS = 4


@dataclass(frozen=True)
class CacheUse:
    """Prompt-cache tokens of one simulated request, as the API reports them in `usage`."""

    read: int = 0
    creation: int = 0


@dataclass(frozen=True)
class _Segment:
    key: str
    chars: int
    breakpoint: bool


def min_tokens_for(model: str) -> int:
    """The smallest prefix the model caches, as Anthropic documents it per model.

    An unknown model gets the largest minimum.
    """
    matches = [k for k in CACHE_MIN_TOKENS if model.startswith(k)]
    return CACHE_MIN_TOKENS[max(matches, key=len)] if matches else max(CACHE_MIN_TOKENS.values())


def _marked(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("cache_control") is not None


def segments(body: JSON) -> list[_Segment]:
    """The prompt in cache order, one segment per tool and content block."""
    out: list[_Segment] = []
    for tool in body.get("tools") or []:
        key = canonical(strip_cache_control(tool))
        out.append(_Segment("t" + key, len(key), _marked(tool)))
    system = body.get("system")
    if isinstance(system, str) and system:
        out.append(_Segment("s" + system, len(system), breakpoint=False))
    elif isinstance(system, list):
        for b in system:
            text = str(b.get("text", "")) if isinstance(b, dict) else ""
            out.append(_Segment("s" + text, len(text), _marked(b)))
    for m in body.get("messages") or []:
        role = str(m.get("role", "")) if isinstance(m, dict) else ""
        for b in blocks(m.get("content") if isinstance(m, dict) else None):
            key = canonical(strip_cache_control(b))
            out.append(_Segment(f"m{role}:{key}", len(key), _marked(b)))
    return out


def breakpoints(body: JSON) -> int:
    """How many `cache_control` breakpoints a request sets (the API allows at most four)."""
    return sum(1 for s in segments(body) if s.breakpoint)


class PromptCache:
    """The simulator's prompt cache: prefix hashes with an expiry, per model."""

    def __init__(
        self,
        *,
        min_tokens: int | None = None,
        ttl_s: float = TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        # None: each model's documented minimum (catalog.CACHE_MIN_TOKENS).
        self.min_tokens = min_tokens
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forgets every cached prefix, so a test starts cold."""
        with self._lock:
            self._entries.clear()

    def apply(self, body: JSON, input_tokens: int) -> CacheUse:
        """What of a request's `input_tokens` the cache serves and what it stores."""
        segs = segments(body)
        marks = [i for i, s in enumerate(segs) if s.breakpoint]
        if not marks:
            return CacheUse()
        model = str(body.get("model", ""))
        floor = self.min_tokens if self.min_tokens is not None else min_tokens_for(model)
        hashes: list[str] = []
        tokens: list[int] = []
        h, chars = hashlib.sha256(), 0
        for s in segs:
            h.update(s.key.encode("utf-8") + b"\x00")
            hashes.append(h.copy().hexdigest())
            chars += s.chars
            tokens.append(min(input_tokens, math.ceil(chars / 4)))
        now = self._clock()
        with self._lock:
            hit = -1
            for b in marks:
                for p in range(b, max(b - LOOKBACK, -1), -1):
                    if p > hit and self._entries.get((model, hashes[p]), -1.0) > now:
                        hit = p
            read = tokens[hit] if hit >= 0 else 0
            if hit >= 0:
                self._entries[(model, hashes[hit])] = now + self.ttl_s
            written = [b for b in marks if b > hit and tokens[b] >= floor]
            for b in written:
                self._entries[(model, hashes[b])] = now + self.ttl_s
            creation = tokens[written[-1]] - read if written else 0
            # Expired entries go, so a long-running simulator does not grow forever.
            if len(self._entries) > 10_000:
                self._entries = {k: t for k, t in self._entries.items() if t > now}
        return CacheUse(read=read, creation=max(0, creation))
