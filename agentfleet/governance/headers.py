"""Reading Anthropic's rate-limit headers into the governor's terms.

`anthropic-ratelimit-{requests,input-tokens,output-tokens,tokens}-{limit,
remaining,reset}` come with every response (reset is an RFC 3339 time), and
`retry-after` (seconds) with a 429. The combined `tokens` family is the most
restrictive of input and output without saying which, so it is used only for
a dimension whose own family is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from agentfleet.governance.models import RateHeaders

PREFIX = "anthropic-ratelimit-"
_FAMILIES = {
    "requests": ("requests",),
    "input-tokens": ("input_tokens",),
    "output-tokens": ("output_tokens",),
    "tokens": ("input_tokens", "output_tokens"),
}


def rate_headers(headers: Mapping[str, str] | None, now: datetime) -> RateHeaders | None:
    """The rate-limit view of one response's headers; None when it sent none."""
    if headers is None:
        return None
    out = RateHeaders(observed_at=now.timestamp())
    seen = False
    for family, dims in _FAMILIES.items():
        limit = _int(headers.get(f"{PREFIX}{family}-limit"))
        remaining = _int(headers.get(f"{PREFIX}{family}-remaining"))
        reset = _reset_in(headers.get(f"{PREFIX}{family}-reset"), now)
        if family == "tokens":
            # The combined family is the tighter of input and output, whichever that
            # is: it stands in only for a dimension that has no header of its own.
            dims = tuple(d for d in dims if d not in out.remaining and d not in out.limit)
        for dim in dims:
            if limit is not None:
                seen = True
                out.limit[dim] = min(limit, out.limit.get(dim, limit))
            if remaining is not None:
                seen = True
                out.remaining[dim] = min(remaining, out.remaining.get(dim, remaining))
            if reset is not None:
                out.reset_in_s[dim] = max(reset, out.reset_in_s.get(dim, reset))
    retry = headers.get("retry-after")
    if retry is not None:
        try:
            out.retry_after_s = max(0.0, min(float(retry), 300.0))
            seen = True
        except ValueError:
            pass
    return out if seen else None


def _int(raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(float(raw))
    except ValueError:
        return None


def _reset_in(raw: str | None, now: datetime) -> float | None:
    if not raw:
        return None
    try:
        at = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    return max(0.0, (at - now).total_seconds())
