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


async def beating(call: Awaitable[T], *, every_s: float, details: Any = None) -> T:
    """Await `call`, heartbeating (with `details`, if any) every `every_s` seconds."""
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
