"""The one heartbeat loop of the activities that await something slow.

A dead worker's call is then noticed within the heartbeat timeout instead of the
call's start-to-close timeout. A call that is merely slow beats and is left to
finish; a fast one never sends a beat.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from temporalio import activity

T = TypeVar("T")

# The beat of the short activities (file tools, workspace, ledger rows, thresholds):
# four beats fit in their 2 s heartbeat timeout (workflows/_calls.py SHORT_HEARTBEAT).
SHORT_BEAT_S = 0.5


async def beating(call: Awaitable[T], *, every_s: float, details: Any = None) -> T:
    """Await `call`, heartbeating (with `details`, if any) every `every_s` seconds.

    A local activity (a ledger row written inside its workflow task) has no heartbeat:
    the workflow task's own timeout watches it, so it is awaited as it is, and so is a
    call made outside any activity.
    """
    if not activity.in_activity() or activity.info().is_local:
        return await call
    task = asyncio.ensure_future(call)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=every_s)
            if done:
                return task.result()
            if details is None:
                activity.heartbeat()
            else:
                activity.heartbeat(details)
    finally:
        if not task.done():
            task.cancel()


async def short_beating(call: Awaitable[T]) -> T:
    """`beating` at the short activities' pace (file tools, ledger rows, thresholds).

    They take milliseconds and run under a 2 s heartbeat timeout, so a dead worker's call
    is retried within seconds instead of after its start-to-close timeout; a call that is
    merely slow (a big directory, a starved machine) beats and is left to finish.
    """
    return await beating(call, every_s=SHORT_BEAT_S)
