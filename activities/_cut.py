"""Which earlier attempts of an LLM call may have been paid for with no answer kept.

An attempt beats what it is doing, `{"attempt": n, "in_flight": n | None, "cut": [...]}`,
while something is slow (`beating`), and once more when it fails on its own terms (an
API error, a malformed reply, no lease). A request that failed with no answer after it may
have reached the API (a read timeout, a dropped connection) says in that last beat that it
is still in flight, so the next attempt counts it cut. A fast call that succeeds sends no
beat at all.
That is on purpose: one recorded heartbeat makes the server put off the retry after a
crash by most of a second (2.9 s from an attempt's start to its retry with no beat,
3.6-3.7 s with one, on the dev server), which is the recovery figure of issue #18.

So an attempt that left no beat behind ended without a word: its worker died or stalled,
perhaps after its request went out or even after the answer came. It counts as cut,
possibly billed, which is the safe side of a bill.
"""

from __future__ import annotations

from typing import Any

from temporalio import activity


def beat_details(attempt: int, cut: list[int], *, in_flight: bool) -> dict[str, Any]:
    """What this attempt beats: whether its request is out, and the cuts it knows of."""
    return {"attempt": attempt, "in_flight": attempt if in_flight else None, "cut": cut}


def cut_attempts() -> list[int]:
    """The earlier attempts of this activity that were, or may have been, cut mid-flight."""
    info = activity.info()
    details = info.heartbeat_details
    last: dict[str, Any] = details[0] if details and isinstance(details[0], dict) else {}
    cut = {int(n) for n in last.get("cut") or [] if isinstance(n, int)}
    in_flight = last.get("in_flight")
    if isinstance(in_flight, int) and in_flight < info.attempt:
        cut.add(in_flight)
    before = info.attempt - 1
    if before >= 1 and before not in (last.get("attempt"), in_flight):
        cut.add(before)  # it ended without a word
    return sorted(cut)
