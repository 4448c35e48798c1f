"""Which earlier attempts of an LLM call may have been paid for with no answer kept.

An attempt beats what it is doing, `{"attempt": n, "in_flight": n | None, "cut": [...]}`,
but only while something is slow (`beating`): a fast call sends no beat at all. That is
on purpose. One recorded heartbeat makes the server put off the retry after a crash by
most of a second (it reschedules its heartbeat timer: 2.9 s after the attempt started
with no beat, 3.6-3.7 s with one), which is the recovery figure of issue #18.

So when the attempt before this one left no beat, how it ended decides. A timeout means
its worker died or stalled, perhaps after its request went out or even after the answer
came: it counts as cut, possibly billed. A failure the worker reported itself (an API
error, a malformed reply, no lease) came with an answer or with no request at all.
"""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.service import RPCError


def beat_details(attempt: int, cut: list[int], *, in_flight: bool) -> dict[str, Any]:
    """What this attempt beats: whether its request is out, and the cuts it knows of."""
    return {"attempt": attempt, "in_flight": attempt if in_flight else None, "cut": cut}


async def cut_attempts() -> list[int]:
    """The earlier attempts of this activity that were, or may have been, cut mid-flight."""
    info = activity.info()
    details = info.heartbeat_details
    last: dict[str, Any] = details[0] if details and isinstance(details[0], dict) else {}
    cut = {int(n) for n in last.get("cut") or [] if isinstance(n, int)}
    in_flight = last.get("in_flight")
    if isinstance(in_flight, int) and in_flight < info.attempt:
        cut.add(in_flight)
    before = info.attempt - 1
    if before >= 1 and before not in (last.get("attempt"), in_flight) and await _timed_out(info):
        cut.add(before)
    return sorted(cut)


async def _timed_out(info: activity.Info) -> bool:
    """Whether the server timed out this activity's previous attempt.

    Asked only on a retry whose previous attempt left no beat. When the server cannot
    say, the attempt counts as cut: "possibly billed" is the safe side of a bill.
    """
    if info.is_local or not info.workflow_id:
        return False
    try:
        client = activity.client()
    except RuntimeError:
        return False  # an ActivityEnvironment with no server: nothing to ask
    try:
        handle = client.get_workflow_handle(info.workflow_id, run_id=info.workflow_run_id)
        desc = await handle.describe()
    except RPCError:
        return True
    for pending in desc.raw_description.pending_activities:
        if pending.activity_id == info.activity_id:
            failure = pending.last_failure
            return failure.HasField("timeout_failure_info") or failure.HasField(
                "canceled_failure_info"
            )
    return True
